// What every page shares: the log-out button, the language switch, times shown in the reader's
// own time zone, and file pickers that name the chosen files in the page's language.
import { api } from "./api.js";
import { showPendingToast } from "./dom.js";
import { formatTime, t } from "./i18n.js";

for (const button of document.querySelectorAll("[data-logout]")) {
  button.addEventListener("click", async () => {
    await api("/api/v1/auth/logout", { method: "POST" });
    location.assign("/login");
  });
}

const localeSwitch = document.getElementById("locale-switch");
if (localeSwitch) {
  localeSwitch.addEventListener("change", async () => {
    const locale = localeSwitch.value;
    if (localeSwitch.dataset.signedIn === "true") {
      await api("/api/v1/me/locale", { method: "PUT", json: { locale } }); // kept on the account
      location.reload();
    } else {
      const url = new URL(location.href);
      url.searchParams.set("lang", locale);
      location.assign(url);
    }
  });
}

showPendingToast();

for (const time of document.querySelectorAll("time[datetime]")) {
  time.textContent = formatTime(time.getAttribute("datetime"));
  time.title = time.getAttribute("datetime");
}

// macros.html file_picker: the browser's own words ("No file chosen") would be in its language
for (const input of document.querySelectorAll(".file-pick input[type=file]")) {
  const names = input.parentElement.querySelector(".file-names");
  const show = () => {
    const files = [...input.files];
    names.textContent = files.length > 1 ? t("{count} files", { count: files.length }) : files[0]?.name ?? names.dataset.empty;
  };
  input.addEventListener("change", show);
  input.addEventListener("cleared", show);
}
