// Declarative forms and buttons for the record pages: JSON to the API, server errors shown.
//   <form data-api="/api/v1/x" data-method="POST" data-then="reload|/path/{id}">
//   inputs: data-type="int|bool|labels"; empty fields are left out (POST) or sent as null (PATCH)
//   <button data-delete="/api/v1/x/1" data-then="/list" data-confirm="Delete X?">
import { api, showError } from "./api.js";
import "./slides.js";

function parseLabels(text) {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [name, color] = line.split(/\s+/);
      return { name, color };
    });
}

function formBody(form) {
  const method = (form.dataset.method || "POST").toUpperCase();
  const body = {};
  for (const field of form.elements) {
    if (!field.name || field.disabled) continue;
    let value = field.type === "checkbox" ? field.checked : field.value;
    if (value === "" && field.type !== "checkbox") {
      if (method === "PATCH" && field.dataset.nullable !== undefined) body[field.name] = null;
      continue;
    }
    if (field.dataset.type === "int") value = parseInt(value, 10);
    if (field.dataset.type === "bool") value = value === true || value === "true";
    if (field.dataset.type === "labels") value = parseLabels(value);
    body[field.name] = value;
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
      follow(form.dataset.then, data);
    } catch (err) {
      showError(box, err.message);
    }
  });
}

for (const button of document.querySelectorAll("button[data-delete]")) {
  button.addEventListener("click", async () => {
    const box = errorBox(button);
    showError(box, "");
    if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
    const url = button.dataset.delete;
    try {
      await api(url, { method: "DELETE" });
      follow(button.dataset.then);
    } catch (err) {
      // 409: children would be lost; say what, and cascade only on an explicit yes
      if (/cascade=true/.test(err.message) && confirm(`${err.message}\n\nDelete everything listed?`)) {
        try {
          await api(`${url}${url.includes("?") ? "&" : "?"}cascade=true`, { method: "DELETE" });
          return follow(button.dataset.then);
        } catch (again) {
          return showError(box, again.message);
        }
      }
      showError(box, err.message);
    }
  });
}

// Tests (and impatient users) wait for this before using the page.
document.documentElement.dataset.ready = "true";
