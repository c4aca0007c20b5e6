// The console's only way to data: the public GraphQL API at /graphql, with the user's own
// credential (an API key, or an OpenID Connect access token) in `Authorization: Bearer`.
// The credential lives in this tab's sessionStorage only, and is gone on sign-out.

const CREDENTIAL = "regentrace.console.credential";
const PENDING = "regentrace.console.oidc";

export class ApiError extends Error {
  constructor(errors, status) {
    super(errors.map((e) => `${e.extensions?.code ?? "ERROR"}: ${e.message}`).join("; "));
    this.errors = errors;
    this.status = status;
    this.code = errors[0]?.extensions?.code;
  }
}

export const credential = {
  get() {
    return sessionStorage.getItem(CREDENTIAL);
  },
  set(value) {
    if (value) sessionStorage.setItem(CREDENTIAL, value);
    else sessionStorage.removeItem(CREDENTIAL);
  },
};

// Sends one document; answers `data`, or throws ApiError when the API refused all of it. A
// partial answer (some fields refused) keeps its errors on `data.__errors`.
export async function gql(query, variables = {}) {
  const headers = { "content-type": "application/json", accept: "application/json" };
  const token = credential.get();
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
    credentials: "omit",
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError([{ message: `HTTP ${response.status}` }], response.status);
  }
  // Refused as a whole, or every field asked for refused: nothing to show but the reason.
  const values = body.data ? Object.values(body.data) : [];
  if (body.errors && values.every((v) => v === null)) throw new ApiError(body.errors, response.status);
  const data = body.data ?? {};
  if (body.errors) Object.defineProperty(data, "__errors", { value: body.errors });
  return data;
}

export const ME = `query Me { me { id role roleDescription scope sites jurisdiction memberState via
  personalData queries mutations reach } }`;

export async function whoAmI() {
  return (await gql(ME)).me;
}

// ------------------------------------------------- OpenID Connect: authorisation code + PKCE

function base64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(size = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

export async function pkceChallenge(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(digest);
}

function redirectUri() {
  return `${location.origin}/console/`;
}

async function discover(issuer) {
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const response = await fetch(url, { credentials: "omit" });
  if (!response.ok) throw new Error(`the issuer's configuration: HTTP ${response.status}`);
  return response.json();
}

// Sends the browser to the issuer's login; it comes back to /console/?code=...&state=...
export async function startOidcLogin(oidc) {
  const found = await discover(oidc.issuer);
  const verifier = randomText(48);
  const state = randomText(16);
  sessionStorage.setItem(
    PENDING,
    JSON.stringify({ verifier, state, tokenEndpoint: found.token_endpoint, clientId: oidc.clientId }),
  );
  const params = new URLSearchParams({
    response_type: "code",
    client_id: oidc.clientId,
    redirect_uri: redirectUri(),
    scope: oidc.scope || "openid",
    state,
    code_challenge: await pkceChallenge(verifier),
    code_challenge_method: "S256",
  });
  if (oidc.audience) params.set("audience", oidc.audience);
  location.assign(`${found.authorization_endpoint}?${params}`);
}

// On the way back from the issuer: trade the code for an access token. Answers true when it did.
export async function finishOidcLogin() {
  const query = new URLSearchParams(location.search);
  const code = query.get("code");
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  if (!code || !pending) return false;
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, "", "/console/#/signin");
  if (query.get("state") !== pending.state) throw new Error("the login's state did not match");
  const response = await fetch(pending.tokenEndpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri(),
      client_id: pending.clientId,
      code_verifier: pending.verifier,
    }),
    credentials: "omit",
  });
  const body = await response.json();
  if (!response.ok || !body.access_token) {
    throw new Error(`the issuer refused the code: ${body.error_description || body.error || response.status}`);
  }
  credential.set(body.access_token);
  return true;
}
