// Small helpers shared by the pages: CSRF header on state-changing calls, problem details.
import { t, term } from "./i18n.js";
import { csrfToken, signInAgain, takeNewCsrfToken } from "./session-renewal.js";

export { csrfToken };

function send(path, { method = "GET", json, body, headers = {} }) {
  const init = { method, headers: { ...headers }, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrfToken();
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  return fetch(path, init);
}

// A refusal that signing in again (401) or another tab's new CSRF token (403 on a write) can
// cure is cured and the request sent once more (session-renewal.js).
async function renewed(path, options, response) {
  if (path.startsWith("/api/v1/auth/")) return false;
  if (response.status === 401) return signInAgain();
  const writes = (options.method || "GET") !== "GET";
  return response.status === 403 && writes && takeNewCsrfToken();
}

export async function api(path, options = {}) {
  let response = await send(path, options);
  if (!response.ok && (await renewed(path, options, response))) response = await send(path, options);
  const text = await response.text();
  const data = text ? safeJson(text) : null;
  if (!response.ok) {
    const error = new Error(problemText(data, response.status));
    error.status = response.status; // 409: someone else saved first
    throw error;
  }
  return data;
}

export function problemText(data, status) {
  if (data && data.detail) {
    const extra = Array.isArray(data.errors) ? data.errors.map((e) => `${e.loc.slice(-1)[0]}: ${e.msg}`) : [];
    return [data.detail, ...extra].join("; ");
  }
  return t("request failed (HTTP {status})", { status });
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text };
  }
}

export function showError(element, message) {
  element.textContent = message;
  element.hidden = !message;
}

const JOB_POLL_MS = 500;
const JOB_ENDED = ["succeeded", "failed", "cancelled"];

// "running 40 % — registering sections": a job's state and percentage, and while it runs the
// stage its handler reports (the server has put it in the reader's language).
export function jobStatusText(job) {
  const text = `${term("job", job.state)} ${Math.round(job.progress * 100)} %`;
  return job.message && !JOB_ENDED.includes(job.state) ? `${text} — ${job.message}` : text;
}

// Follow a job until it ends, telling onProgress(job) at each poll (a bar, a percentage).
export async function untilJobEnds(job, onProgress = () => {}) {
  while (!JOB_ENDED.includes(job.state)) {
    onProgress(job);
    await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
    job = await api(`/api/v1/jobs/${job.id}`);
  }
  return job;
}
