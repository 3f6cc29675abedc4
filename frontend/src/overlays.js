// Whole-slide image overlays (QC masks, analysis heatmaps): one picture stretched over the
// slide as an OpenSeadragon image layer, switched on and off by key; `toggle.setOpacity`
// fades those whose key starts with a prefix (the heatmaps' slider).
export function overlayToggler(viewer) {
  const shown = new Map();
  const opacities = new Map(); // key prefix -> opacity for layers added later
  const opacityOf = (key) => [...opacities].find(([prefix]) => key.startsWith(prefix))?.[1] ?? 1;
  function toggle(key, url, on) {
    if (on && !shown.has(key)) {
      shown.set(key, null);
      viewer.addTiledImage({
        tileSource: { type: "image", url, buildPyramid: false },
        x: 0,
        y: 0,
        width: 1, // the slide's own width in viewport units
        opacity: opacityOf(key),
        success: (event) => {
          if (!shown.has(key)) viewer.world.removeItem(event.item);
          else shown.set(key, event.item);
        },
      });
    } else if (!on && shown.has(key)) {
      const item = shown.get(key);
      shown.delete(key);
      if (item) viewer.world.removeItem(item);
    }
  }
  toggle.setOpacity = (prefix, opacity) => {
    opacities.set(prefix, opacity);
    for (const [key, item] of shown) if (item && key.startsWith(prefix)) item.setOpacity(opacity);
  };
  toggle.isShown = (key) => shown.has(key);
  return toggle;
}
