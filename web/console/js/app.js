// The console's shell: sign-in, who is signed in, and the pages behind #/<page>/<id>?<params>.

import { credential, finishOidcLogin, startOidcLogin, whoAmI } from "./api.js";
import { auditPage } from "./audit.js";
import { batchPage } from "./batch.js";
import { bi, errorBox, h, put, say } from "./dom.js";
import { networkPage, sitePage } from "./network.js";
import { recallPage } from "./recall.js";
import { recordsPage } from "./records.js";

export const session = { me: null, config: { oidc: null, developmentPrincipal: false }, problem: null };

const PAGES = {
  network: networkPage,
  site: sitePage,
  batch: batchPage,
  recall: recallPage,
  records: recordsPage,
  audit: auditPage,
};

async function refreshMe() {
  if (!credential.get() && !session.config.developmentPrincipal) {
    session.me = null;
    renderWho();
    return;
  }
  try {
    session.me = await whoAmI();
    session.problem = null;
  } catch (error) {
    session.me = null;
    session.problem = credential.get() ? error : null;
  }
  renderWho();
}

function renderWho() {
  const who = document.getElementById("who");
  const nav = document.getElementById("nav");
  const me = session.me;
  nav.hidden = !me;
  if (!me) {
    put(who, h("a", { href: "#/signin" }, "Sign in · 登入"));
    return;
  }
  const reach = me.reach === null ? "all sites · 全部場所" : `${me.reach.length} sites · 場所`;
  put(who,
    h("span", { "data-testid": "whoami", title: `${me.id} · ${me.role} · ${reach}` }, h("strong", {}, me.id), ` · ${me.role} · ${reach}`),
    h("button", { type: "button", onclick: signOut }, "Sign out · 登出"),
  );
}

function signOut() {
  credential.set(null);
  session.me = null;
  location.hash = "#/signin";
  refreshMe().then(route);
}

function signinPage(main) {
  const keyInput = h("input", { id: "api-key", name: "api-key", type: "password", autocomplete: "off", size: "48", required: true, placeholder: "rtk_…" });
  const problem = h("div", { "aria-live": "assertive" });
  if (session.problem) problem.append(errorBox(session.problem));
  const form = h(
    "form",
    {
      class: "row",
      onsubmit: async (event) => {
        event.preventDefault();
        credential.set(keyInput.value.trim());
        await refreshMe();
        if (session.me) location.hash = "#/network";
        else {
          put(problem, errorBox(session.problem || new Error("not signed in")));
          credential.set(null);
        }
      },
    },
    h("label", { for: "api-key" }, bi("API key", "API 金鑰"), keyInput),
    h("button", { type: "submit" }, "Sign in · 登入"),
  );
  const oidc = session.config.oidc;
  const me = session.me;
  put(main,
    h("h1", {}, bi("Sign in", "登入")),
    h("p", {}, "The console reads only what the GraphQL API lets your own credential read. · 主控台僅顯示您的憑證可讀取的資料。"),
    h("section", { class: "card", "aria-labelledby": "with-key" }, h("h2", { id: "with-key" }, bi("With an API key", "使用 API 金鑰")), form, problem),
    oidc
      ? h("section", { class: "card", "aria-labelledby": "with-oidc" },
          h("h2", { id: "with-oidc" }, bi("With your organisation's login (OpenID Connect)", "使用機構登入 (OpenID Connect)")),
          h("p", { class: "muted" }, `Issuer: ${oidc.issuer}`),
          h("button", { type: "button", onclick: () => startOidcLogin(oidc).catch((e) => put(problem, errorBox(e))) }, "Log in with OpenID Connect · 以 OpenID Connect 登入"))
      : null,
    me ? identityCard(me) : null,
  );
}

function identityCard(me) {
  const rows = [
    [bi("Signed in as", "登入身分"), me.id],
    [bi("Role", "角色"), `${me.role} — ${me.roleDescription}`],
    [bi("Credential", "憑證"), me.via === "development" ? "development principal (no credential: this server is a development one)" : me.via],
    [bi("Scope", "範圍"), me.scope],
    [bi("Sites named", "指定場所"), me.sites.join(", ") || "—"],
    [bi("Jurisdiction", "管轄"), [me.jurisdiction, me.memberState].filter(Boolean).join(" / ") || "—"],
    [bi("Reach (sites whose records you see)", "可見場所"), me.reach === null ? "every site · 全部場所" : me.reach.join(", ") || "none"],
    [bi("Personal data", "個人資料"), me.personalData ? "yes · 是" : "no · 否"],
    [bi("May send", "可執行指令"), me.mutations.join(", ") || "nothing (read only) · 唯讀"],
  ];
  return h(
    "section",
    { class: "card", "aria-labelledby": "identity", "data-testid": "identity" },
    h("h2", { id: "identity" }, bi("Who you are", "您的身分")),
    h("table", {}, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v))))),
  );
}

export function parseHash() {
  const [path, query] = (location.hash.replace(/^#\/?/, "") || "network").split("?");
  const [page, ...rest] = path.split("/");
  return { page, id: rest.map(decodeURIComponent).join("/") || null, params: new URLSearchParams(query || "") };
}

async function route() {
  const main = document.getElementById("main");
  const { page, id, params } = parseHash();
  for (const link of document.querySelectorAll("#nav a")) {
    const target = link.getAttribute("href").slice(2);
    if (target === page || (page === "site" && target === "network")) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const generation = ++routed;
  if (page === "signin" || !session.me || !PAGES[page]) {
    signinPage(main);
    document.title = "Sign in · 登入 · regentrace console";
    return;
  }
  // Each page is built apart and shown once ready, unless another was asked for meanwhile.
  const view = h("div", { "data-page": page });
  put(main, h("p", { class: "muted" }, "Loading · 載入中…"));
  say("");
  try {
    await PAGES[page](view, id, params, session);
  } catch (error) {
    put(view, errorBox(error));
  }
  if (generation !== routed) return;
  put(main, view);
  document.title = `${view.querySelector("h1")?.textContent || page} · regentrace console`;
  main.focus({ preventScroll: true });
}

let routed = 0;

async function boot() {
  try {
    session.config = await (await fetch("/console/config.json")).json();
  } catch {
    session.config = { oidc: null, developmentPrincipal: false };
  }
  try {
    if (await finishOidcLogin()) say("Signed in with OpenID Connect · 已登入");
  } catch (error) {
    session.problem = error;
  }
  await refreshMe();
  addEventListener("hashchange", route);
  await route();
  document.body.dataset.ready = "true";
}

boot();
