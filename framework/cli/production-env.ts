// Imported first by main.ts: a node started with `baton start` runs the
// production builds of its dependencies (mutative's development build checks
// every draft access and costs a third of an action) unless told otherwise.
if (process.argv[2] === "start") process.env.NODE_ENV ??= "production"

// automerge-repo's throttle arms timers with a negative delay, which Bun reports as a
// TimeoutNegativeWarning on every node (harmless: it means "now"). Other warnings still show.
process.removeAllListeners("warning")
process.on("warning", (w) => {
  if (w.name !== "TimeoutNegativeWarning") console.error(`${w.name}: ${w.message}`)
})
