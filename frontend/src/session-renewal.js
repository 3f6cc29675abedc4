// A session that ends while a page is open (idle too long, signed out elsewhere) must not cost
// a pathologist the work on that page. A request refused for want of a session opens a dialog
// asking for the password of the page's own account, then is sent again; one refused because
// a sign-in in another tab replaced the CSRF token takes the new token (same account only)
// and is sent again. Nothing on the page is reloaded, so unsaved outlines stay where they are.
import { t } from "./i18n.js";

const tokenMeta = () => document.querySelector('meta[name="csrf-token"]');

export function csrfToken() {
  const meta = tokenMeta();
  return meta ? meta.content : "";
}

function pageAccount() {
  const meta = document.querySelector('meta[name="account"]');
  return meta ? meta.content : null;
}

function setCsrfToken(token) {
  const meta = tokenMeta();
  if (meta && token) meta.content = token;
}

let pending = null; // one dialog for every request refused at the same moment

// Resolves true once the account is signed in again, false when the person cancels.
export function signInAgain() {
  const dialog = document.getElementById("sign-in-again");
  if (!dialog || !pageAccount()) return Promise.resolve(false);
  pending ??= new Promise((resolve) => {
    const form = dialog.querySelector("form");
    const password = form.elements.password;
    const error = dialog.querySelector("[data-error]");
    const cancel = dialog.querySelector("[data-cancel]");
    const finish = (signedIn) => {
      form.removeEventListener("submit", submit);
      cancel.removeEventListener("click", cancelled);
      dialog.removeEventListener("cancel", cancelled);
      password.value = "";
      error.hidden = true;
      if (dialog.open) dialog.close();
      pending = null;
      resolve(signedIn);
    };
    const cancelled = (event) => {
      event.preventDefault();
      finish(false);
    };
    async function submit(event) {
      event.preventDefault();
      const response = await fetch("/api/v1/auth/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ account: pageAccount(), password: password.value }),
      });
      const data = await response.json().catch(() => ({}));
      if (!response.ok) {
        error.textContent = data.detail || t("request failed (HTTP {status})", { status: response.status });
        error.hidden = false;
        password.select();
        return;
      }
      setCsrfToken(data.csrf_token);
      finish(true);
    }
    form.addEventListener("submit", submit);
    cancel.addEventListener("click", cancelled);
    dialog.addEventListener("cancel", cancelled);
    dialog.showModal();
    password.focus();
  });
  return pending;
}

// True when the session (signed in again in another tab) has a new CSRF token for this page's
// account: the page takes it. A different account signed in meanwhile is not this page's.
export async function takeNewCsrfToken() {
  const response = await fetch("/api/v1/me", { credentials: "same-origin" });
  if (!response.ok) return false;
  const me = await response.json();
  if (me.account !== pageAccount() || me.csrf_token === csrfToken()) return false;
  setCsrfToken(me.csrf_token);
  return true;
}
