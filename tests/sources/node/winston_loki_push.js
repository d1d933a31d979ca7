// Push log lines to logradar with winston-loki, the Grafana Loki transport for winston.
//
//   node winston_loki_push.js BASE_URL json|protobuf LINES
//
// LINES is a JSON array of {"level", "message", "meta"}. The transport labels every line
// {job="checkout", host="web-7", level=...}; "json" sends JSON with each line's meta as structured
// metadata, "protobuf" a snappy-compressed PushRequest. Exits non-zero if a push failed.
'use strict'
const winston = require('winston')
const LokiTransport = require('winston-loki')

const [host, mode, linesJson] = process.argv.slice(2)
const lines = JSON.parse(linesJson)
const transport = new LokiTransport({
  host,
  json: mode === 'json',
  labels: { job: 'checkout', host: 'web-7' },
  format: winston.format.printf(info => info.message),
  interval: 0.1,
  gracefulShutdown: false,
  onConnectionError: err => {
    console.error(`push failed: ${err.message}`)
    process.exitCode = 1
  }
})
const wanted = mode === 'json' ? 'application/json' : 'application/x-protobuf'
if (transport.batcher.contentType !== wanted) {
  // winston-loki falls back to JSON when the snappy module cannot be loaded
  console.error(`winston-loki would send ${transport.batcher.contentType}, not ${wanted}`)
  process.exit(2)
}

let pending = lines.length
transport.on('logged', () => {
  if (--pending === 0) {
    transport.close().then(() => process.exit())
  }
})
const logger = winston.createLogger({ transports: [transport] })
for (const { level, message, meta } of lines) {
  logger.log(level, message, meta)
}
