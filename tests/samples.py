"""One valid row per reference dataset, with values from shared/standards.md's verified examples."""

SAMPLE_ROWS: dict[str, dict] = {
    "person": {"id_number": "350102199003071234", "name": "陈志明", "gender": "1", "birth_date": "1990-03-07",
               "division_code": "350102", "address": "福州市鼓楼区五四路 100 号", "phone": "13905910001"},
    "enterprise": {"uscc": "91350100M000100Y43", "name": "福州闽江科技有限公司", "legal_rep_id": "350102199003071234",
                   "legal_rep_name": "陈志明", "registered_capital": 500.0, "established_date": "2015-06-01",
                   "division_code": "350100", "address": "福州市鼓楼区软件园 8 号", "status": "存续",
                   "industry_code": "I6510"},
    "licence": {"licence_id": "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
                "licence_type": "11100000000013338W011", "licence_name": "建筑业企业资质证书", "holder_type": "001",
                "holder_id": "91350100M000100Y43", "holder_name": "福州闽江科技有限公司", "issuer": "福州市住建局",
                "issued_date": "2023-04-03", "valid_from": "2023-04-03", "valid_to": "2028-04-02", "status": "有效"},
    "approval_case": {"case_id": "FJ2026112600001", "item_code": "350100-XK-001", "item_name": "食品经营许可",
                      "applicant_type": "enterprise", "applicant_id": "91350100M000100Y43",
                      "department": "福州市市场监管局", "stage": "applied", "stage_time": "2026-11-26T09:30:00+08:00",
                      "statutory_limit_days": 20, "promised_limit_days": 5, "channel": "online", "trips": 0},
    "sensor_reading": {"sensor_id": "FZ-GL-PM25-001", "station_id": "FZ-GL-01", "division_code": "350102",
                       "metric": "pm25", "value": 23.5, "unit": "μg/m³", "measured_at": "2026-11-26T09:30:00+08:00",
                       "quality": "valid"},
}


def rows(dataset: str, n: int) -> list[dict]:
    """``n`` distinct rows of a dataset (the key gets a counter suffix; it need not pass its check digit)."""
    base = SAMPLE_ROWS[dataset]
    key = {"person": "id_number", "enterprise": "uscc", "licence": "licence_id", "approval_case": "case_id",
           "sensor_reading": "sensor_id"}[dataset]
    return [{**base, key: f"{base[key][:-4]}{i:04d}"} for i in range(n)]
