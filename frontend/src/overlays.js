// Whole-slide image overlays (QC masks, analysis heatmaps): one picture stretched over the
// slide as an OpenSeadragon image layer, switched on and off by key.
export function overlayToggler(viewer) {
  const shown = new Map();
  return function toggle(key, url, on) {
    if (on && !shown.has(key)) {
      shown.set(key, null);
      viewer.addTiledImage({
        tileSource: { type: "image", url, buildPyramid: false },
        x: 0,
        y: 0,
        width: 1, // the slide's own width in viewport units
        opacity: 1,
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
  };
}
