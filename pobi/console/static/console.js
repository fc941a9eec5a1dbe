// pobi console: search, the 360° view, the lifecycle graph and the data tracker, on the object-services API.
// No framework and no network beyond the hub: a government network is often air-gapped.
"use strict";

const WORDS = {
  zh: {
    "brand": "破壁 · 一人一档", "search.placeholder": "姓名、身份证号、统一社会信用代码或证照编号",
    "tab.attributes": "360° 视图", "tab.lifecycle": "生命周期", "tab.tracker": "数据足迹",
    "related": "关联对象", "flags": "数据质量提示", "deliveries": "谁收到了这些数据", "reads": "谁查看过",
    "zoom.reset": "全部", "none": "无", "no.results": "没有找到", "deleted": "已注销",
    "col.attribute": "属性", "col.value": "当前值", "col.source": "来源部门", "col.when": "时间",
    "col.others": "其他部门的不同说法", "col.subscriber": "订阅方", "col.purpose": "用途",
    "col.fields": "字段", "col.dataset": "数据集", "col.reader": "查看者", "col.view": "视图",
    "col.channel": "渠道", "col.role": "角色",
    "person": "自然人", "enterprise": "企业", "licence": "证照", "case": "办件", "sensor": "监测点",
    "matched.id": "编号匹配", "op.c": "新增", "op.u": "变更", "op.d": "注销", "op.r": "快照",
    "events": "个事件", "language": "English",
    "nav.search": "查询", "nav.dashboards": "业务看板", "nav.desk": "运维台",
    "lane.stages": "办理环节", "limit.promised": "承诺时限", "limit.statutory": "法定时限", "days": "天",
    "login.title": "登录", "login.user": "用户名", "login.password": "密码", "login.submit": "登录",
    "logout": "退出", "role.viewer": "查询员", "role.operator": "运维", "role.api": "程序",
    "dash.timeliness": "审批时效（半数法定时限内办结的比例，目标 ≥ 50%）", "dash.licences": "证照：签发、有效、30 天内到期",
    "dash.sensors": "监测：近一小时每分钟读数", "dash.deliveries": "各订阅方收到的数据",
    "desk.throughput": "近一小时各环节处理量", "desk.letters": "死信：按环节和原因", "desk.dry": "试运行重放",
    "desk.replay": "重放", "desk.would": "试运行：将重放 {n} 条，跳过 {s} 条", "desk.did": "已重放 {n} 条，跳过 {s} 条",
    "desk.confirm": "确定把这些死信重放回原主题吗？",
    "col.item": "事项", "col.department": "部门", "col.decided": "已办结", "col.avg_days": "平均天数",
    "col.promised": "承诺时限内", "col.statutory": "法定时限内", "col.half": "半数法定时限内", "col.trips": "平均跑动",
    "col.type": "证照", "col.issuer": "颁发机构", "col.issued": "签发", "col.valid": "有效", "col.expiring": "30 天内到期",
    "col.minute": "分钟", "col.sensor": "传感器", "col.metric": "监测项", "col.readings": "读数", "col.avg": "平均值",
    "col.deliveries": "条数", "col.last_day": "最近一天", "col.stage": "环节", "col.events": "事件数",
    "col.reason": "原因", "col.letters": "死信数", "col.message": "说明", "col.origin": "来源位置",
    "col.lag": "待处理", "desk.lag": "各环节积压（尚未处理的记录）",
    "flag.id_number.converted_from_15": "15 位旧号码，已升为 18 位",
    "flag.id_number.born_before_1900": "出生早于 1900 年：号码有效但罕见",
    "flag.division_code.unknown": "行政区划代码不在 GB/T 2260 表中",
    "flag.division_code.retired": "行政区划代码已撤销",
    "flag.phone.unknown_segment": "手机号段不是工信部已分配的号段",
    "flag.uscc.organisation_code": "统一社会信用代码内嵌的组织机构代码校验不通过",
    "flag.uscc.unknown_type": "登记管理部门与机构类别的组合少见",
    "flag.licence_id.checksum": "证照编号校验位不正确", "flag.licence_id.issuer": "证照编号中的签发机构代码无效",
    "flag.date.open_ended": "长期有效（无截止日期）", "flag.date.excel_serial": "日期来自表格序列号",
    "flag.case.two_decisions": "办件有两次办结决定", "flag.case.stage_order": "办理环节时间顺序颠倒",
    "flag.case.stage_skipped": "跳过了办理环节", "flag.sensor.unit_converted": "监测值已换算单位",
    "flag.sensor.late": "监测数据迟到",
  },
  en: {
    "brand": "pobi · one file per person", "search.placeholder": "Name, ID number, credit code or licence id",
    "tab.attributes": "360° view", "tab.lifecycle": "Lifecycle", "tab.tracker": "Data tracker",
    "related": "Related", "flags": "Data quality notes", "deliveries": "Who received this data",
    "reads": "Who looked at it", "zoom.reset": "All", "none": "none", "no.results": "Nothing found",
    "deleted": "deleted", "col.attribute": "Attribute", "col.value": "Current value", "col.source": "Said by",
    "col.when": "When", "col.others": "Other departments say", "col.subscriber": "Subscriber",
    "col.purpose": "Purpose", "col.fields": "Fields", "col.dataset": "Dataset", "col.reader": "Reader",
    "col.view": "View", "col.channel": "Channel", "col.role": "Role",
    "person": "Person", "enterprise": "Enterprise", "licence": "Licence", "case": "Case", "sensor": "Sensor",
    "matched.id": "id match", "op.c": "created", "op.u": "changed", "op.d": "deleted", "op.r": "snapshot",
    "events": "events", "language": "中文",
    "nav.search": "Search", "nav.dashboards": "Dashboards", "nav.desk": "Operator's desk",
    "lane.stages": "case stages", "limit.promised": "promised limit", "limit.statutory": "statutory limit",
    "days": "days",
    "login.title": "Log in", "login.user": "User", "login.password": "Password", "login.submit": "Log in",
    "logout": "Log out", "role.viewer": "viewer", "role.operator": "operator", "role.api": "program",
    "dash.timeliness": "Approval timeliness (share decided within half the statutory limit; target ≥ 50 %)",
    "dash.licences": "Licences: issued, valid, expiring within 30 days",
    "dash.sensors": "Sensors: readings per minute, last hour", "dash.deliveries": "Deliveries per subscriber",
    "desk.throughput": "Per-stage throughput, last hour", "desk.letters": "Dead letters by stage and reason",
    "desk.dry": "Dry-run replay", "desk.replay": "Replay", "desk.would": "Dry run: would replay {n}, skip {s}",
    "desk.did": "Replayed {n}, skipped {s}", "desk.confirm": "Replay these dead letters to their topic?",
    "col.item": "Item", "col.department": "Department", "col.decided": "Decided", "col.avg_days": "Avg days",
    "col.promised": "Within promised", "col.statutory": "Within statutory", "col.half": "Within half statutory",
    "col.trips": "Avg trips", "col.type": "Licence", "col.issuer": "Issuer", "col.issued": "Issued",
    "col.valid": "Valid", "col.expiring": "Expiring in 30 days", "col.minute": "Minute", "col.sensor": "Sensor",
    "col.metric": "Metric", "col.readings": "Readings", "col.avg": "Average", "col.deliveries": "Deliveries",
    "col.last_day": "Last day", "col.stage": "Stage", "col.events": "Events", "col.reason": "Reason",
    "col.letters": "Letters", "col.message": "Message", "col.origin": "Origin",
    "col.lag": "Not yet processed", "desk.lag": "Per-stage lag (records not yet processed)",
    "flag.id_number.converted_from_15": "a legacy 15-digit number, converted to 18",
    "flag.id_number.born_before_1900": "born before 1900: valid, but rare",
    "flag.division_code.unknown": "the division code is not in GB/T 2260",
    "flag.division_code.retired": "the division code has been retired",
    "flag.phone.unknown_segment": "not a mobile segment MIIT has assigned",
    "flag.uscc.organisation_code": "the credit code's embedded organisation code fails its check",
    "flag.uscc.unknown_type": "an unusual registering authority and organisation type",
    "flag.licence_id.checksum": "the licence id's check character is wrong",
    "flag.licence_id.issuer": "the licence id's issuer part is not a valid credit code",
    "flag.date.open_ended": "open-ended (no end date)", "flag.date.excel_serial": "a date read from a spreadsheet serial",
    "flag.case.two_decisions": "the case was decided twice", "flag.case.stage_order": "stages dated out of order",
    "flag.case.stage_skipped": "a stage was skipped", "flag.sensor.unit_converted": "the value's unit was converted",
    "flag.sensor.late": "the reading arrived late",
  },
};

let language = localStorage.getItem("pobi.language") || "zh";
const t = (key) => WORDS[language][key] ?? WORDS.zh[key] ?? key;
const $ = (id) => document.getElementById(id);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child ?? "");
  return node;
}

function when(ms) {
  return new Date(Number(ms)).toLocaleString(language === "zh" ? "zh-CN" : "en-GB",
    { hour12: false, timeZone: "Asia/Shanghai" });  // the province's time, as the CLI shows it
}

async function api(path, options = {}) {
  const answer = await fetch(path, { ...options, headers: { "X-Pobi-Channel": "console", ...options.headers } });
  const body = await answer.json();
  if (answer.status === 401 && path !== "/console/login") showLogin();
  if (!answer.ok) throw new Error(body.error || String(answer.status));
  return body;
}

// -- who is using the console: on the secure profile a login, as a viewer or an operator -------------------------
let me = null;
function showLogin() {
  me = null;
  $("login").hidden = false;
  for (const id of ["entity", "results", "dashboards", "desk", "who", "logout"]) $(id).hidden = true;
}

async function whoAmI() {
  try {
    me = await api("/console/whoami");
  } catch (_error) {
    return false;
  }
  $("login").hidden = true;
  $("who").hidden = $("logout").hidden = !me.login;
  $("who").textContent = `${me.user} · ${t("role." + me.role)}`;
  document.querySelector('.pages a[href="#/desk"]').hidden = me.role === "viewer";
  return true;
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("/console/login", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: $("login-user").value, password: $("login-password").value }) });
    $("login-password").value = $("login-error").textContent = "";
    if (await whoAmI()) route();
  } catch (error) {
    $("login-error").textContent = error.message;
  }
});
$("logout").addEventListener("click", async () => {
  await fetch("/console/logout", { method: "POST", headers: { "X-Pobi-Channel": "console" } });
  showLogin();
});

function say(text) {
  $("message").textContent = text;
  $("message").hidden = !text;
}

function table(node, headings, rows) {
  node.replaceChildren(el("tr", {}, ...headings.map((h) => el("th", {}, t(h)))));
  if (!rows.length) node.append(el("tr", {}, el("td", { colspan: headings.length }, t("none"))));
  for (const cells of rows) node.append(el("tr", {}, ...cells.map((c) => el("td", {}, c))));
}

// -- search: results as they are typed, ranked as the CLI ranks them ----------------------------------------
let typed = 0;
async function search(text) {
  const mine = ++typed;
  const needle = text.trim();
  if (!needle || (/^[\x00-\x7f]*$/.test(needle) && needle.length < 2)) {
    $("results").hidden = true;
    return say("");
  }
  try {
    const found = await api(`/search?q=${encodeURIComponent(needle)}&limit=20`);
    if (mine !== typed) return;  // a newer keystroke already asked
    const list = $("results");
    list.replaceChildren(...found.map((f) => el("a", { href: `#/entity/${encodeURIComponent(f.entity_id)}`,
      class: "result" }, el("span", {}, f.label || f.entity_id),
      el("span", { class: "kind" }, `${t(f.entity_type)} · ${f.entity_id} · ${t("matched." + f.matched)}`))));
    list.hidden = !found.length;
    say(found.length ? "" : t("no.results"));
    if (!found.length && /^[0-9a-zA-Z０-９ｘＸ .]{15,}$/.test(needle)) {
      await api(`/object/${encodeURIComponent(needle)}`).catch((e) => say(e.message));  // why an id is wrong
    }
  } catch (error) {
    if (mine === typed) say(error.message);
  }
}

// -- one entity: the 360° view, its lifecycle and its tracker --------------------------------------------------
let labels = null;  // entity type → field → its Chinese name (from the schemas' docs)
const label = (kind, field) => (labels?.[kind]?.[field] && language === "zh"
  ? `${labels[kind][field]} ${field}` : field);

async function showEntity(id) {
  $("results").hidden = true;
  say("");
  let view;
  try {
    view = await api(`/object/${encodeURIComponent(id)}`);
  } catch (error) {
    $("entity").hidden = true;
    return say(error.message);
  }
  const [timeline, tracker, reads] = await Promise.all([
    api(`/timeline/${encodeURIComponent(id)}`), api(`/tracker/${encodeURIComponent(id)}`),
    api(`/reads/${encodeURIComponent(id)}`)]);
  labels = labels || await api("/labels").catch(() => ({}));
  const name = view.attributes.name || view.attributes.licence_name || view.attributes.item_name;
  $("entity-title").textContent = `${name ? name.value : view.entity_id}${view.deleted ? ` (${t("deleted")})` : ""}`;
  $("entity-subtitle").textContent = `${t(view.entity_type)} · ${view.entity_id}`;
  table($("attributes"), ["col.attribute", "col.value", "col.source", "col.when", "col.others"],
    Object.entries(view.attributes).map(([attribute, a]) => [label(view.entity_type, attribute), a.value ?? "",
      el("span", { class: "source" }, a.department), when(a.source_ts_ms),
      el("span", { class: "other" }, a.others.map((o) => `${o.department}: ${o.value}`).join("；"))]));
  $("related").replaceChildren(...view.related.map((r) => el("li", {}, `${r.role} → `,
    el("a", { href: `#/entity/${encodeURIComponent(r.id)}` }, `${t(r.type)} ${r.id}`))));
  const flags = [...new Set(timeline.events.flatMap((e) => e.quality_flags))];
  $("flags").replaceChildren(...(flags.length ? flags.map((f) => el("li", { "data-flag": f },
    `${t("flag." + f) === "flag." + f ? f : t("flag." + f)} (${f})`)) : [el("li", {}, t("none"))]));
  stages = view.stages || [];
  $("event-detail").hidden = true;  // an event of the entity shown before
  drawLifecycle(timeline.events);
  table($("deliveries"), ["col.when", "col.subscriber", "col.purpose", "col.dataset", "col.fields"],
    tracker.deliveries.map((d) => [when(d.ts_ms), d.subscriber, d.purpose, d.dataset, d.fields.join(", ")]));
  table($("reads"), ["col.when", "col.reader", "col.view", "col.channel"],
    reads.reads.map((r) => [when(r.ts_ms), r.reader, r.view, r.channel]));
  $("entity").hidden = false;
}

// -- the lifecycle graph: one mark per event, a lane per department and dataset, zoomable ----------------------
let events = [], span = null, stages = [];
function caseLimits() {
  // an approval case: its promised and statutory limits, counted in days from its application
  const applied = stages.find((s) => s.stage === "applied");
  if (!applied) return [];
  return [["limit.promised", applied.promised_limit_days], ["limit.statutory", applied.statutory_limit_days]]
    .filter(([, days]) => days !== null && days !== undefined)
    .map(([key, days]) => ({ key, days, ms: Number(applied.stage_ms) + Number(days) * 86_400_000 }));
}

function drawLifecycle(all, range = null) {
  events = all;
  const svg = $("lifecycle");
  const width = svg.clientWidth || 900, left = 190, right = 20, top = 20, laneHeight = 34;
  const lanes = [...new Set(all.map((e) => `${e.department} · ${e.dataset}`))];
  if (stages.length) lanes.push(t("lane.stages"));
  const limits = caseLimits();
  const times = [...all.map((e) => Number(e.ts_ms)), ...stages.map((st) => Number(st.stage_ms)),
    ...limits.map((l) => l.ms)];
  const lo = range ? range[0] : Math.min(...times) - 60_000, hi = range ? range[1] : Math.max(...times) + 60_000;
  span = [lo, hi];
  const x = (ms) => left + ((ms - lo) / Math.max(1, hi - lo)) * (width - left - right);
  const height = top + lanes.length * laneHeight + 30;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.style.height = `${height}px`;
  const ns = "http://www.w3.org/2000/svg", shape = (tag, a) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(a)) node.setAttribute(k, v);
    return node;
  };
  svg.replaceChildren();
  lanes.forEach((lane, i) => {
    const y = top + i * laneHeight + laneHeight / 2;
    svg.append(shape("line", { x1: left, x2: width - right, y1: y, y2: y, class: "axis" }));
    const label = shape("text", { x: 8, y: y + 4, class: "lane" });
    label.textContent = lane;
    svg.append(label);
  });
  for (const [fraction, anchor] of [[0, "start"], [0.5, "middle"], [1, "end"]]) {
    const ms = lo + fraction * (hi - lo);
    const tick = shape("text", { x: x(ms), y: height - 8, class: "tick", "text-anchor": anchor });
    tick.textContent = when(ms);
    svg.append(tick);
  }
  for (const event of all) {
    if (Number(event.ts_ms) < lo || Number(event.ts_ms) > hi) continue;
    const y = top + lanes.indexOf(`${event.department} · ${event.dataset}`) * laneHeight + laneHeight / 2;
    const mark = shape("circle", { cx: x(Number(event.ts_ms)), cy: y, r: 7, class: `event-mark op-${event.op}`,
      "data-event": event.event_id, tabindex: 0 });
    const title = shape("title", {});
    title.textContent = `${t("op." + event.op)} ${event.dataset} ${when(event.ts_ms)}`;
    mark.append(title);
    mark.addEventListener("click", () => {
      $("event-detail").textContent = JSON.stringify({ ...event, time: when(event.ts_ms) }, null, 2);
      $("event-detail").hidden = false;
    });
    svg.append(mark);
  }
  const stageLane = top + (lanes.length - 1) * laneHeight + laneHeight / 2;
  for (const st of stages) {
    if (Number(st.stage_ms) < lo || Number(st.stage_ms) > hi) continue;
    const mark = shape("circle", { cx: x(Number(st.stage_ms)), cy: stageLane, r: 6, class: "stage-mark",
      "data-stage": st.stage });
    const title = shape("title", {});
    title.textContent = `${st.stage} ${when(st.stage_ms)}`;
    mark.append(title);
    svg.append(mark);
  }
  for (const limit of limits) {
    if (limit.ms < lo || limit.ms > hi) continue;
    svg.append(shape("line", { x1: x(limit.ms), x2: x(limit.ms), y1: top - 10, y2: height - 24,
      class: `limit ${limit.key.replace(".", "-")}` }));
    const label = shape("text", { x: x(limit.ms) - 4, y: top - 8, class: "limit-label", "text-anchor": "end" });
    label.textContent = `${t(limit.key)} ${limit.days} ${t("days")}`;
    svg.append(label);
  }
}

function zoom(factor) {
  if (!span) return;
  const middle = (span[0] + span[1]) / 2, half = ((span[1] - span[0]) / 2) * factor;
  drawLifecycle(events, [middle - half, middle + half]);
}

// -- the business dashboards -------------------------------------------------------------------------------------
const percent = (share) => {
  const value = Math.round(Number(share) * 1000) / 10;
  return el("span", {}, el("span", { class: `bar${value >= 50 ? " met" : ""}`, style: `width:${value}px` }),
    `${value}%`);
};

async function showDashboards() {
  const [cases, licences, sensors, deliveries] = await Promise.all(
    ["case_timeliness", "licence_status", "sensor_minutes", "deliveries_per_subscriber"].map((v) => api(`/views/${v}`)));
  table($("dash-timeliness"), ["col.item", "col.department", "col.decided", "col.avg_days", "col.promised",
    "col.statutory", "col.half", "col.trips"], cases.rows.map(([code, name, dept, n, days, promised, statutory,
    half, trips]) => [`${name} (${code})`, dept, n, Number(days).toFixed(1), percent(promised), percent(statutory),
    percent(half), Number(trips).toFixed(1)]));
  table($("dash-licences"), ["col.type", "col.issuer", "col.issued", "col.valid", "col.expiring"],
    licences.rows.map(([type, name, issuer, issued, valid, expiring]) => [`${name} (${type})`, issuer, issued,
      valid, expiring]));
  table($("dash-sensors"), ["col.minute", "col.sensor", "col.metric", "col.readings", "col.avg"],
    sensors.rows.slice(0, 30).map(([minute, sensor, metric, n, _lo, _hi, avg]) => [minute, sensor, metric, n,
      Number(avg).toFixed(2)]));
  table($("dash-deliveries"), ["col.subscriber", "col.deliveries", "col.last_day"],
    deliveries.rows.map(([subscriber, n, day]) => [subscriber, n, day]));
}

// -- the operator's desk: throughput, dead letters by reason, a reason's letters and their replay ------------------
let chosen = null;
async function showDesk() {
  const [throughput, reasons, lag] = await Promise.all([api("/views/throughput"),
    api("/views/dead_letters_by_reason"), api("/lag").catch(() => ({ lag: {} }))]);
  const perStage = {};
  for (const [_minute, _dataset, stage, n] of throughput.rows) perStage[stage] = (perStage[stage] || 0) + Number(n);
  table($("desk-throughput"), ["col.stage", "col.events"], Object.entries(perStage));
  table($("desk-lag"), ["col.stage", "col.lag"], Object.entries(lag.lag));
  table($("desk-reasons"), ["col.stage", "col.reason", "col.letters"], reasons.rows);
  reasons.rows.forEach(([stage, reason], i) => {
    const row = $("desk-reasons").rows[i + 1];
    row.dataset.reason = reason;
    row.dataset.stage = stage;
    row.addEventListener("click", () => chooseReason(stage, reason));
  });
}

async function chooseReason(stage, reason) {
  chosen = { stage, reason };
  $("desk-chosen").hidden = false;
  $("desk-chosen-title").textContent = `${stage} · ${reason}`;
  $("replay-report").textContent = "";
  $("replay-real").disabled = true;  // a dry run first
  const found = await api(`/dead-letters?stage=${encodeURIComponent(stage)}&reason=${encodeURIComponent(reason)}`);
  table($("desk-letters"), ["col.when", "col.message", "col.origin", "col.department"],
    found.letters.map((l) => [when(l.ts_ms), l.message, l.origin, l.department]));
}

async function replay(dryRun) {
  if (!chosen || (!dryRun && !confirm(t("desk.confirm")))) return;
  const answer = await fetch("/dlq/replay", { method: "POST", body: JSON.stringify({ ...chosen, dry_run: dryRun }),
    headers: { "X-Pobi-Channel": "console", "Content-Type": "application/json" } });
  const report = await answer.json();
  if (!answer.ok) return ($("replay-report").textContent = report.error);
  const skipped = Object.values(report.skipped).reduce((a, b) => a + b, 0);
  $("replay-report").textContent = t(dryRun ? "desk.would" : "desk.did").replace("{n}", report.replayed)
    .replace("{s}", skipped);
  $("replay-real").disabled = !dryRun || report.replayed === 0;
}

// -- routing, tabs, language ------------------------------------------------------------------------------------
function showTab(name) {
  for (const tab of ["attributes", "lifecycle", "tracker"]) {
    $(`tab-${tab}`).hidden = tab !== name;
    document.querySelector(`[data-tab=${tab}]`).classList.toggle("active", tab === name);
  }
  if (name === "lifecycle") drawLifecycle(events, span);
}

function translate() {
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  $("language").textContent = t("language");
}

function route() {
  const match = location.hash.match(/^#\/entity\/(.+)$/);
  const page = location.hash.startsWith("#/dashboards") ? "dashboards" : location.hash.startsWith("#/desk")
    ? "desk" : "search";
  $("dashboards").hidden = page !== "dashboards";
  $("desk").hidden = page !== "desk";
  for (const link of document.querySelectorAll(".pages a")) {
    link.classList.toggle("active", link.getAttribute("href") === (page === "search" ? "#/" : `#/${page}`));
  }
  if (page === "dashboards") showDashboards().catch((e) => say(e.message));
  if (page === "desk") showDesk().catch((e) => say(e.message));
  if (page !== "search") {
    $("entity").hidden = $("results").hidden = true;
    say("");
  } else if (match) {
    showEntity(decodeURIComponent(match[1]));
    showTab("attributes");
  } else {
    $("entity").hidden = true;
  }
}

let pending;
$("search").addEventListener("input", (e) => {
  clearTimeout(pending);
  pending = setTimeout(() => search(e.target.value), 150);
});
$("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  search($("search").value);
});
for (const link of document.querySelectorAll("[data-tab]")) {
  link.addEventListener("click", (e) => {
    e.preventDefault();
    showTab(link.dataset.tab);
  });
}
$("zoom-in").addEventListener("click", () => zoom(0.5));
$("replay-dry").addEventListener("click", () => replay(true));
$("replay-real").addEventListener("click", () => replay(false));
$("zoom-out").addEventListener("click", () => zoom(2));
$("zoom-reset").addEventListener("click", () => drawLifecycle(events));
$("lifecycle").addEventListener("wheel", (e) => {
  e.preventDefault();
  zoom(e.deltaY < 0 ? 0.8 : 1.25);
}, { passive: false });
$("language").addEventListener("click", () => {
  language = language === "zh" ? "en" : "zh";
  localStorage.setItem("pobi.language", language);
  translate();
  route();
});
window.addEventListener("hashchange", route);
translate();
whoAmI().then((known) => known && route());
