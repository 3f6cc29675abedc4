import { api } from "./api.js";

// Logout button present on every page that loads this bundle.
for (const button of document.querySelectorAll("[data-logout]")) {
  button.addEventListener("click", async () => {
    await api("/api/v1/auth/logout", { method: "POST" });
    location.assign("/login");
  });
}
