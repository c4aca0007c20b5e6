// The network: control sites and their decentralised sites, coloured by status, with the EU
// Union database links and the UK DM master file, replayed at any moment (asOf); a site's page.

import { gql } from "./api.js";
import { drawGraph } from "./graph.js";
import { badge, bi, errorBox, eventLink, h, put, say, table, when } from "./dom.js";

export const STATUS_COLOURS = {
  ACTIVE: "#1a7f37",
  REGISTERED: "#6b5d00",
  SUSPENDED: "#b35900",
  TERMINATED: "#b42318",
};

const NETWORK = `query ConsoleNetwork($asOf: DateTime) {
  sites(asOf: $asOf) { id name kind jurisdiction country controlSiteId status effectiveStatus registeredAt }
  unionDatabaseSiteLinks(asOf: $asOf) {
    centralSite { id } decentralisedSite { id } supervisingAuthority linkedAt status
  }
}`;

const MASTER_FILE = `query ConsoleMasterFile($id: ID!, $asOf: DateTime) {
  dmMasterFile(controlSiteId: $id, asOf: $asOf) {
    controlSite { id name status } sites { id name kind status effectiveStatus }
    adverseReactionReports { id batchId serious reportingDeadline overdue }
  }
}`;

const DAY = 86_400_000;

function layout(sites) {
  const controls = sites.filter((s) => s.kind === "CONTROL_SITE").sort((a, b) => a.id.localeCompare(b.id));
  const column = new Map(controls.map((c, i) => [c.id, i]));
  const ofJurisdiction = new Map(controls.map((c, i) => [c.jurisdiction, i]));
  const rows = new Map();
  const nodes = [];
  const others = controls.length;
  // Under each control site: the sites it controls, then (apart, without a link) the
  // laboratories and hospitals of its jurisdiction, which answer to no control site.
  const order = (s) => (s.kind === "CONTROL_SITE" ? 0 : s.controlSiteId ? 1 : 2);
  const sorted = [...sites].sort((a, b) => order(a) - order(b) || a.id.localeCompare(b.id));
  const gap = new Set();
  for (const site of sorted) {
    let col;
    if (site.kind === "CONTROL_SITE") col = column.get(site.id);
    else col = column.get(site.controlSiteId) ?? ofJurisdiction.get(site.jurisdiction) ?? others;
    let row = site.kind === "CONTROL_SITE" ? 0 : (rows.get(col) ?? 0) + 1;
    if (order(site) === 2 && !gap.has(col)) {
      gap.add(col);
      row += 0.5;
    }
    if (site.kind !== "CONTROL_SITE") rows.set(col, row);
    nodes.push({
      key: site.id,
      id: site.id,
      kind: site.kind,
      kindLabel: site.kind.toLowerCase().replace(/_/g, " "),
      label: site.id,
      sub: `${site.status}${site.effectiveStatus !== site.status ? ` → ${site.effectiveStatus}` : ""} · ${site.kind.replace(/_/g, " ").toLowerCase()}`,
      color: STATUS_COLOURS[site.effectiveStatus],
      strong: site.kind === "CONTROL_SITE",
      x: 110 + col * 260 + (site.kind === "CONTROL_SITE" ? 0 : 30),
      y: 40 + row * 54 + (site.kind === "CONTROL_SITE" ? 0 : 16),
    });
  }
  return nodes;
}

const CHANGES = `query ConsoleSiteChanges($after: String) {
  events(filter: { aggregateType: "Site" }, first: 500, after: $after) {
    nodes { position aggregateId type recordedAt }
    pageInfo { hasNextPage endCursor }
  }
}`;

// The moments the slider steps through: each change to the site register, as the ledger
// recorded it (asOf replays the ledger as recorded). A role that may not read the ledger's
// events steps through the days of the last year instead.
async function moments() {
  try {
    const found = [];
    let after = null;
    do {
      const page = (await gql(CHANGES, { after })).events;
      found.push(...page.nodes);
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after && found.length < 5000);
    if (found.length) {
      return found.map((e) => ({
        asOf: e.recordedAt,
        text: `#${e.position} ${e.type.replace("Site.", "")} ${e.aggregateId.replace("Site:", "")} · ${when(e.recordedAt)}`,
      }));
    }
  } catch {
    /* no events for this role: days instead */
  }
  const today = Math.ceil(Date.now() / DAY) * DAY;
  return Array.from({ length: 366 }, (_, i) => {
    const at = new Date(today - (365 - i) * DAY).toISOString();
    return { asOf: at, text: at.slice(0, 10) };
  });
}

export async function networkPage(main, _id, params) {
  const asOfParam = params.get("asOf");
  const [now, steps] = await Promise.all([gql(NETWORK, {}), moments()]);
  const last = steps.length; // one past the last step: now
  const slider = h("input", {
    id: "as-of-slider",
    type: "range",
    min: "0",
    max: String(last),
    step: "1",
    value: String(last),
  });
  const moment = h("input", { id: "as-of", type: "text", size: "30", value: asOfParam || "", placeholder: "now · 現在 (e.g. 2026-01-01T00:00:00Z)" });
  const shown = h("output", { for: "as-of-slider", id: "as-of-shown" });
  const view = h("div", { id: "network-view" });
  put(main,
    h("h1", {}, bi("Network", "場所網絡")),
    h("form", { class: "slider", onsubmit: (e) => { e.preventDefault(); show(moment.value.trim() || null, true); } },
      h("label", { for: "as-of-slider" }, bi("Replay: after each change to the register", "重播：登錄的每一次變更"), slider),
      h("label", { for: "as-of" }, bi("As of (any moment, UTC)", "時間點（UTC）"), moment),
      h("button", { type: "submit" }, "Show · 顯示"),
      h("button", { type: "button", class: "secondary", onclick: () => { moment.value = ""; slider.value = String(last); show(null, true); } }, "Now · 現在"),
    ),
    h("p", { class: "muted" }, "As the ledger stood at: · 帳本狀態時間：", " ", shown),
    h("div", { class: "legend", "aria-label": "Status colours · 狀態顏色" },
      Object.entries(STATUS_COLOURS).map(([status, colour]) => h("span", {}, h("span", { class: "sw", "data-colour": colour }), status)),
      h("span", {}, "– – EU Union database link · 歐盟聯合資料庫連結"),
      h("span", {}, "Thick border: control site · 粗框：主控場所"),
    ),
    view,
  );
  for (const swatch of main.querySelectorAll(".legend .sw")) swatch.style.background = swatch.dataset.colour;

  let timer = null;
  slider.addEventListener("input", () => {
    const step = steps[Number(slider.value)];
    shown.textContent = step ? step.text : "now · 現在";
    clearTimeout(timer);
    timer = setTimeout(() => {
      moment.value = step ? step.asOf : "";
      show(step ? step.asOf : null, true);
    }, 200);
  });

  async function show(asOf, remember) {
    if (remember) history.replaceState(null, "", asOf ? `#/network?asOf=${encodeURIComponent(asOf)}` : "#/network");
    const index = asOf ? steps.findIndex((x) => x.asOf === asOf) : last;
    const step = steps[index];
    if (index >= 0) slider.value = String(index);
    shown.textContent = asOf ? (step ? step.text : asOf) : "now · 現在";
    slider.setAttribute("aria-valuetext", shown.textContent);
    view.setAttribute("aria-busy", "true");
    try {
      const data = asOf ? await gql(NETWORK, { asOf }) : now;
      await render(view, data, asOf);
      view.dataset.asOf = asOf || "now";
      if (view.isConnected) say(`Network as of ${asOf || "now"}: ${data.sites.length} sites · 場所`);
    } catch (error) {
      put(view, errorBox(error));
      view.dataset.asOf = "error";
    } finally {
      view.removeAttribute("aria-busy");
    }
  }
  await show(asOfParam, false);
}

async function render(view, data, asOf) {
  const links = data.unionDatabaseSiteLinks;
  const linked = new Set(links.map((l) => l.decentralisedSite.id));
  const nodes = layout(data.sites);
  const edges = data.sites
    .filter((s) => s.controlSiteId)
    .map((s) => ({
      from: s.controlSiteId,
      to: s.id,
      route: "bus",
      dashed: linked.has(s.id),
      color: linked.has(s.id) ? "#0b5cad" : "#8a94a3",
      label: linked.has(s.id) ? "EU Union database link" : "controlled by",
    }));
  const graph = drawGraph({
    nodes,
    edges,
    width: 172,
    label: "Sites by control site, coloured by status · 依主控場所排列之場所",
    onSelect: (node) => { location.hash = `#/site/${encodeURIComponent(node.id)}${asOf ? `?asOf=${encodeURIComponent(asOf)}` : ""}`; },
  });
  for (const group of graph.svg.querySelectorAll("g.node")) {
    const site = data.sites.find((s) => s.id === group.dataset.id);
    group.dataset.status = site.effectiveStatus;
  }
  const ukControls = data.sites.filter((s) => s.kind === "CONTROL_SITE" && s.jurisdiction === "UK");
  const masterFiles = [];
  for (const control of ukControls) {
    try {
      const found = (await gql(MASTER_FILE, { id: control.id, asOf })).dmMasterFile;
      if (found) masterFiles.push(found);
    } catch (error) {
      masterFiles.push({ error, controlSite: control });
    }
  }
  put(view,
    h("div", { class: "split" },
      h("div", {}, graph.controls, graph.svg),
      h("aside", { class: "side", "aria-label": "Registers · 登錄" },
        h("h2", {}, bi("EU Union database links", "歐盟聯合資料庫連結")),
        links.length
          ? table(
              [
                { en: "Central site", zh: "中央場所", cell: (l) => l.centralSite.id },
                { en: "Decentralised site", zh: "分散場所", cell: (l) => h("a", { href: `#/site/${l.decentralisedSite.id}` }, l.decentralisedSite.id) },
                { en: "Status", zh: "狀態", cell: (l) => badge(l.status) },
              ],
              links,
            )
          : h("p", { class: "muted" }, "none · 無"),
        h("h2", {}, bi("UK DM master file", "英國分散製造主檔")),
        masterFiles.length
          ? masterFiles.map((m) => m.error
              ? m.error.code === "FORBIDDEN"
                ? h("p", { class: "muted" }, `${m.controlSite.id}: your role may not read the DM master file. · 您的角色無法讀取主檔。`)
                : h("div", {}, `${m.controlSite.id}: `, errorBox(m.error))
              : h("div", { "data-testid": "dm-master-file" },
                  h("p", {}, h("strong", {}, m.controlSite.id), " ", badge(m.controlSite.status), ` · ${m.adverseReactionReports.length} adverse-reaction reports`),
                  table(
                    [
                      { en: "Site", zh: "場所", cell: (s) => h("a", { href: `#/site/${s.id}` }, s.id) },
                      { en: "Status", zh: "狀態", cell: (s) => badge(s.effectiveStatus) },
                    ],
                    m.sites,
                  )))
          : h("p", { class: "muted" }, "none · 無"),
      ),
    ),
    h("h2", {}, bi("Sites", "場所")),
    table(
      [
        { en: "Site", zh: "場所", cell: (s) => h("a", { href: `#/site/${encodeURIComponent(s.id)}` }, s.id) },
        { en: "Name", zh: "名稱", cell: (s) => s.name },
        { en: "Kind", zh: "類型", cell: (s) => s.kind },
        { en: "Control site", zh: "主控場所", cell: (s) => s.controlSiteId || "—" },
        { en: "Status", zh: "狀態", cell: (s) => badge(s.status) },
        { en: "Effective", zh: "實際狀態", cell: (s) => h("span", { "data-site": s.id, "data-status": s.effectiveStatus }, badge(s.effectiveStatus)) },
      ],
      data.sites,
    ),
  );
}

const SITE = `query ConsoleSite($id: ID!, $asOf: DateTime) {
  site(id: $id, asOf: $asOf) {
    id name kind jurisdiction country supervisingAuthority controlSiteId status effectiveStatus
    controlSiteStatus licenceNumber location contact registeredAt
    history { status at reason actor actorRole position recordedAt }
  }
  sites(controlSiteId: $id, asOf: $asOf) { id name kind effectiveStatus }
}`;

export async function sitePage(main, id, params) {
  const asOf = params.get("asOf");
  const data = await gql(SITE, { id, asOf });
  const site = data.site;
  if (!site) {
    put(main, h("h1", {}, bi("Site", "場所"), ` ${id}`), errorBox(new Error("not found, or not within your reach · 查無此場所或不在您的權限內")));
    return;
  }
  const facts = [
    [bi("Name", "名稱"), site.name],
    [bi("Kind", "類型"), site.kind],
    [bi("Jurisdiction", "管轄"), `${site.jurisdiction} (${site.country}) · ${site.supervisingAuthority}`],
    [bi("Control site", "主控場所"), site.controlSiteId ? h("a", { href: `#/site/${site.controlSiteId}` }, site.controlSiteId, " ", site.controlSiteStatus ? badge(site.controlSiteStatus) : null) : "—"],
    [bi("Status", "狀態"), [badge(site.status), " effective · 實際 ", badge(site.effectiveStatus)]],
    [bi("Licence", "許可證"), site.licenceNumber || "—"],
    [bi("Location", "地點"), site.location || "—"],
    [bi("Contact", "聯絡"), site.contact || "—"],
    [bi("Registered", "登錄時間"), when(site.registeredAt)],
  ];
  put(main,
    h("p", {}, h("a", { href: asOf ? `#/network?asOf=${encodeURIComponent(asOf)}` : "#/network" }, "← Network · 網絡")),
    h("h1", {}, bi("Site", "場所"), ` ${site.id}`, asOf ? h("span", { class: "muted" }, ` as of ${asOf}`) : null),
    h("div", { class: "cards" },
      h("section", { class: "card" }, h("table", {}, h("tbody", {}, facts.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v)))))),
      data.sites.length
        ? h("section", { class: "card" }, h("h2", {}, bi("Sites it controls", "所轄場所")),
            h("ul", {}, data.sites.map((s) => h("li", {}, h("a", { href: `#/site/${s.id}` }, s.id), " ", badge(s.effectiveStatus)))))
        : null,
    ),
    h("h2", {}, bi("History", "狀態歷程")),
    table(
      [
        { en: "Status", zh: "狀態", cell: (c) => badge(c.status) },
        { en: "Effective", zh: "生效時間", cell: (c) => when(c.at) },
        { en: "Reason", zh: "原因", cell: (c) => c.reason || "—" },
        { en: "By", zh: "執行者", cell: (c) => `${c.actor} (${c.actorRole})` },
        { en: "Ledger event", zh: "帳本事件", cell: (c) => eventLink(c.position) },
      ],
      site.history,
    ),
  );
}
