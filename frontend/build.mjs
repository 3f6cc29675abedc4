// Bundles the pages' scripts and copies OpenSeadragon's button images (npm, never pasted).
import { build } from "esbuild";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "pathodesk", "web", "static", "dist");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: ["forms", "login", "report", "section-form", "sections", "slides", "storage", "upload", "viewer"].map((n) => join(here, "src", `${n}.js`)),
  bundle: true,
  format: "esm",
  minify: true,
  sourcemap: true,
  target: ["chrome110", "firefox110", "safari16"],
  outdir: out,
  logLevel: "info",
});
cpSync(join(here, "node_modules", "openseadragon", "build", "openseadragon", "images"), join(out, "osd-images"), {
  recursive: true,
});
