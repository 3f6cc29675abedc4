import { api, showError } from "./api.js";
import "./page.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(error, "");
  const data = new FormData(form);
  try {
    await api("/api/v1/auth/login", {
      method: "POST",
      json: { account: data.get("account"), password: data.get("password") },
    });
    location.assign(form.dataset.next || "/"); // the server checked it is a path on this site
  } catch (err) {
    showError(error, err.message);
  }
});

// Tests (and impatient users) wait for this before using the page.
document.documentElement.dataset.ready = "true";
