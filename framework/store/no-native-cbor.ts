// Imported before anything that loads cbor-x: its native addon (cbor-extract)
// segfaults Bun when it was compiled from source. The JS decoder is fast
// enough for sync messages, and this makes the crash impossible whatever the
// install did.
process.env.CBOR_NATIVE_ACCELERATION_DISABLED = "true"
