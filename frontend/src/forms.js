// Declarative forms and buttons for the record pages: JSON to the API, server errors shown.
//   <form data-api="/api/v1/x" data-method="POST" data-then="reload|/path/{id}">
//   inputs: data-type="int|float|bool|labels|list"; empty fields are left out (POST) or sent as
//   null (PATCH); a name "a.b" fills body.a.b; an empty list field sends []
//   <button data-delete="/api/v1/x/1" data-then="/list" data-confirm="Delete X?" data-confirm-word="X">
import { api, showError } from "./api.js";
import { t } from "./i18n.js";
import { $, toastAfterReload } from "./dom.js";
import "./page.js";

// "name #rrggbb [English name] [| Chinese name]" per line: a class, its colour and what pages
// show for it in each language.
function parseLabels(text) {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [, name, color, rest = ""] = line.match(/^(\S+)\s*(\S*)\s*(.*)$/);
      const [en = "", zh = ""] = rest.split("|").map((part) => part.trim());
      const display = Object.fromEntries(Object.entries({ en, zh_CN: zh }).filter(([, value]) => value));
      return Object.keys(display).length ? { name, color, display } : { name, color };
    });
}

function setPath(body, name, value) {
  const keys = name.split(".");
  const last = keys.pop();
  let target = body;
  for (const key of keys) target = target[key] ??= {};
  target[last] = value;
}

function formBody(form) {
  const method = (form.dataset.method || "POST").toUpperCase();
  const body = {};
  for (const field of form.elements) {
    if (!field.name || field.disabled) continue;
    let value = field.type === "checkbox" ? field.checked : field.value;
    const type = field.dataset.type;
    if (value === "" && field.type !== "checkbox" && type !== "list") {
      if (method === "PATCH" && field.dataset.nullable !== undefined) setPath(body, field.name, null);
      continue;
    }
    if (type === "int") value = parseInt(value, 10);
    if (type === "float") value = parseFloat(value);
    if (type === "bool") value = value === true || value === "true";
    if (type === "labels") value = parseLabels(value);
    if (type === "list") value = value.split(",").map((item) => item.trim()).filter(Boolean);
    setPath(body, field.name, value);
  }
  return { method, body };
}

function follow(then, data) {
  if (!then || then === "reload") return location.reload();
  location.assign(then.replace("{id}", data && data.id !== undefined ? data.id : ""));
}

function errorBox(element) {
  return element.closest("section, form, .card")?.querySelector("[data-error]") || document.querySelector("[data-error]");
}

for (const form of document.querySelectorAll("form[data-api]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = errorBox(form);
    showError(box, "");
    const { method, body } = formBody(form);
    try {
      const data = await api(form.dataset.api, { method, json: body });
      toastAfterReload(form.dataset.done || t("Saved."));
      follow(form.dataset.then, data);
    } catch (err) {
      showError(box, err.message);
    }
  });
}

// Deleting asks in the page, never with the browser's confirm(): the dialog says what will be
// lost and the user types the record's own code (data-confirm-word) to go on.
function confirmTyped(message, word, action) {
  const dialog = $("confirm-dialog");
  const typed = $("confirm-typed");
  const ok = $("confirm-ok");
  $("confirm-message").textContent = message;
  $("confirm-typed-label").textContent = t("Type {word} to confirm", { word });
  ok.textContent = action;
  typed.value = "";
  ok.disabled = true;
  typed.oninput = () => { ok.disabled = typed.value.trim() !== word; };
  dialog.showModal();
  typed.focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm" && !ok.disabled), { once: true });
  });
}

for (const button of document.querySelectorAll("button[data-delete]")) {
  button.addEventListener("click", async () => {
    const box = errorBox(button);
    showError(box, "");
    const { confirm: message, confirmWord: word } = button.dataset;
    if (message && !(await confirmTyped(message, word, button.textContent))) return;
    try {
      await api(button.dataset.delete, { method: "DELETE" });
      toastAfterReload(button.dataset.done || t("Deleted."));
      follow(button.dataset.then);
    } catch (err) {
      showError(box, err.message);
    }
  });
}

// Tests (and impatient users) wait for this before using the page.
document.documentElement.dataset.ready = "true";
