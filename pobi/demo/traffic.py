"""Realistic demo traffic for Fujian: people, enterprises and their legal representatives, licences,
approval cases moving through their stages, sensor stations — with a small, known share of dirty,
invalid and duplicate records, so every path of the hub has something to show."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from stdnum.cn import ric, uscc
from stdnum.iso7064 import mod_37_36

__all__ = ["DemoTraffic", "valid_id_number", "valid_uscc"]

CST = timezone(timedelta(hours=8))
COUNTIES = {  # county code -> (city, county) from shared/standards.md §3.2
    "350102": ("福州市", "鼓楼区"), "350104": ("福州市", "仓山区"), "350181": ("福州市", "福清市"),
    "350203": ("厦门市", "思明区"), "350206": ("厦门市", "湖里区"), "350302": ("莆田市", "城厢区"),
    "350404": ("三明市", "三元区"), "350503": ("泉州市", "丰泽区"), "350582": ("泉州市", "晋江市"),
    "350602": ("漳州市", "芗城区"), "350702": ("南平市", "延平区"), "350802": ("龙岩市", "新罗区"),
    "350902": ("宁德市", "蕉城区"),
}
SURNAMES = "陈林黄张李王吴刘蔡杨郑许谢洪郭邱曾廖赖徐周叶苏庄吕江何"
GIVEN = "志明秀英建华丽芳国强淑珍文杰美玲俊伟海燕金水春梅晓东雅婷"
INDUSTRIES = {"I6510": "软件开发", "C3911": "计算机制造", "F5212": "食品零售", "E4700": "房屋建筑", "H6110": "旅游饭店"}
METRICS = {"pm25": ("μg/m³", 5, 150), "pm10": ("μg/m³", 10, 250), "no2": ("μg/m³", 5, 120),
           "temperature": ("℃", 5, 35), "humidity": ("%", 30, 100)}
ITEMS = [("350100-XK-001", "食品经营许可", 20, 5), ("350100-XK-014", "建筑工程施工许可", 15, 7),
         ("350100-QT-203", "户口迁移", 10, 3), ("350100-XK-030", "道路运输经营许可", 20, 10)]


def valid_id_number(county: str, born: date, sequence: int) -> str:
    body = f"{county}{born:%Y%m%d}{sequence % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def valid_uscc(county: str, serial: int) -> str:
    body = f"91{county}MA{serial % 10**7:07d}"  # 9 enterprise, 1 company; positions 9-17 an organisation code
    body = body[:17]
    return body + uscc.calc_check_digit(body + "0")


# 福州市住房和城乡建设局, as a valid government-organ code (department 1, type 1)
ISSUER_USCC = "11350100003592006" + uscc.calc_check_digit("11350100003592006" + "0")


def licence_identifier(issuer_uscc: str, serial: int) -> str:
    type_code, version = "11100000000013338W011", "001"
    data = f"{type_code}{issuer_uscc}{serial:010d}{version}"
    return f"1.2.156.3005.2.{type_code}.{issuer_uscc}.{serial:010d}.{version}.{mod_37_36.calc_check_digit(data)}"


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@dataclass
class DemoTraffic:
    """A deterministic stream of (dataset, row) pairs; ``dirty_share`` of rows are spelled badly but
    fixable, ``invalid_share`` break a hard rule, ``duplicate_share`` repeat an earlier row."""

    seed: int = 7
    dirty_share: float = 0.05
    invalid_share: float = 0.02

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.people: list[dict[str, Any]] = []
        self.enterprises: list[dict[str, Any]] = []

    def _name(self) -> str:
        return self.rng.choice(SURNAMES) + "".join(self.rng.sample(GIVEN, self.rng.choice((1, 2))))

    def person(self) -> dict[str, Any]:
        county = self.rng.choice(list(COUNTIES))
        born = date(1950, 1, 1) + timedelta(days=self.rng.randrange(0, 365 * 55))
        seq = self.rng.randrange(0, 1000)
        row = {"id_number": valid_id_number(county, born, seq), "name": self._name(),
               "gender": "1" if seq % 2 else "2", "birth_date": born.isoformat(), "division_code": county,
               "address": f"{''.join(COUNTIES[county])}{self.rng.choice(['五四路', '湖东路', '中山路', '人民路'])}"
                          f"{self.rng.randrange(1, 300)}号",
               "phone": f"1{self.rng.choice('3589')}{self.rng.randrange(10**8, 10**9)}"}
        self.people.append(row)
        r = self.rng.random()
        if r < self.invalid_share:
            row = {**row, "id_number": row["id_number"][:-1] + ("0" if row["id_number"][-1] != "0" else "1")}
        elif r < self.invalid_share + self.dirty_share:
            row = {**row, "id_number": _fullwidth(row["id_number"]).lower(), "name": f"\u3000{row['name']} ",
                   "birth_date": f"{born.year}年{born.month}月{born.day}日"}
        return row

    def enterprise(self) -> dict[str, Any]:
        county = self.rng.choice(list(COUNTIES))
        rep = self.rng.choice(self.people) if self.people else self.person()
        industry = self.rng.choice(list(INDUSTRIES))
        row = {"uscc": valid_uscc(county, self.rng.randrange(10**7)),
               "name": f"{COUNTIES[county][0][:2]}{self.rng.choice(['闽江', '海峡', '武夷', '鼓山', '鹭岛'])}"
                       f"{INDUSTRIES[industry]}有限公司",
               "legal_rep_id": rep["id_number"], "legal_rep_name": rep["name"],
               "registered_capital": float(self.rng.choice([50, 100, 200, 500, 1000])),
               "established_date": (date(2000, 1, 1) + timedelta(days=self.rng.randrange(9000))).isoformat(),
               "division_code": county, "address": f"{''.join(COUNTIES[county])}软件大道{self.rng.randrange(1, 99)}号",
               "status": self.rng.choice(["存续", "存续", "存续", "在业", "注销"]), "industry_code": industry}
        self.enterprises.append(row)
        if self.rng.random() < self.invalid_share:
            row = {**row, "uscc": row["uscc"][:-1] + ("I" if row["uscc"][-1] != "I" else "O")}
        return row

    def licence(self) -> dict[str, Any]:
        holder = self.rng.choice(self.enterprises) if self.enterprises else self.enterprise()
        issued = date(2020, 1, 1) + timedelta(days=self.rng.randrange(2000))
        return {"licence_id": licence_identifier(ISSUER_USCC, self.rng.randrange(10**9)),
                "licence_type": "11100000000013338W011", "licence_name": "建筑业企业资质证书", "holder_type": "001",
                "holder_id": holder["uscc"], "holder_name": holder["name"], "issuer": "福州市住房和城乡建设局",
                "issued_date": issued.isoformat(), "valid_from": issued.isoformat(),
                "valid_to": (issued + timedelta(days=365 * 5)).isoformat(), "status": "有效"}

    def approval_case_stages(self, number: int, start: datetime) -> list[dict[str, Any]]:
        applicant = self.rng.choice(self.enterprises) if self.enterprises else self.enterprise()
        code, name, statutory, promised = self.rng.choice(ITEMS)
        base = {"case_id": f"FJ{start:%Y%m%d}{number:05d}", "item_code": code, "item_name": name,
                "applicant_type": "enterprise", "applicant_id": applicant["uscc"], "department": "福州市行政服务中心",
                "statutory_limit_days": statutory, "promised_limit_days": promised,
                "channel": self.rng.choice(["online", "online", "window", "app"]), "trips": self.rng.choice([0, 0, 1])}
        stages, at = [], start
        for stage in ("applied", "accepted", self.rng.choice(["approved", "approved", "rejected"]), "completed"):
            stages.append({**base, "stage": stage, "stage_time": at.isoformat(timespec="seconds")})
            at += timedelta(hours=self.rng.randrange(2, 72))
        return stages

    def sensor_readings(self, at: datetime, stations: int = 6) -> Iterator[dict[str, Any]]:
        for i, county in enumerate(list(COUNTIES)[:stations]):
            for metric, (unit, low, high) in METRICS.items():
                value = round(self.rng.uniform(low, high), 1)
                if self.rng.random() < self.invalid_share:
                    value = -999.0  # a sensor fault outside every physical range
                yield {"sensor_id": f"FJ-{county}-{metric}", "station_id": f"FJ-{county}-{i:02d}",
                       "division_code": county, "metric": metric, "value": value, "unit": unit,
                       "measured_at": at.isoformat(timespec="seconds"), "quality": "valid"}

    def batch(self, people: int, enterprises: int, licences: int, cases: int, start: datetime) -> Iterator[
            tuple[str, dict[str, Any]]]:
        for _ in range(people):
            yield "person", self.person()
        for _ in range(enterprises):
            yield "enterprise", self.enterprise()
        for _ in range(licences):
            yield "licence", self.licence()
        for n in range(cases):
            for row in self.approval_case_stages(n, start + timedelta(minutes=n)):
                yield "approval_case", row
        for minute in range(3):
            for row in self.sensor_readings(start + timedelta(minutes=minute)):
                yield "sensor_reading", row

    @staticmethod
    def now() -> datetime:
        return datetime.now(CST).replace(microsecond=0)
