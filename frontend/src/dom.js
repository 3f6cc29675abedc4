// Small DOM helpers shared by the page scripts.
export const $ = (id) => document.getElementById(id);

const TOAST_MS = 3500;
const PENDING = "pathodesk-toast";

// A short confirmation over the page (it never moves the layout); read out by screen readers.
export function toast(message) {
  let box = document.getElementById("toast");
  if (!box) {
    box = document.createElement("div");
    box.id = "toast";
    box.className = "toast";
    box.setAttribute("role", "status");
    box.setAttribute("aria-live", "polite");
    document.body.append(box);
  }
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, TOAST_MS);
}

// Said after the next page load (a form that reloads or moves on when it succeeds).
export function toastAfterReload(message) {
  sessionStorage.setItem(PENDING, message);
}

export function showPendingToast() {
  const message = sessionStorage.getItem(PENDING);
  if (message) {
    sessionStorage.removeItem(PENDING);
    toast(message);
  }
}
