// driver.js puts events with dynamodb-eventstore@0.1.0, the npm package of the seed that
// Store.Put replaces, for buildledger-bench's put figure: a warm-up, then EVENTS puts by
// CALLERS concurrent callers, each putting again as soon as its last put is answered. It
// prints {"events": n, "seconds": s} for the timed puts on stdout.
//
// Usage: node driver.js TABLE EVENTS CALLERS [WARMUP]
// The endpoint comes from AWS_ENDPOINT_URL_DYNAMODB (or AWS_ENDPOINT_URL), the region and
// credentials from the standard AWS variables.
"use strict";

const AWS = require("aws-sdk");
const DynamoDbEventStore = require("dynamodb-eventstore");

function main() {
  const [table, eventsArg, callersArg, warmupArg] = process.argv.slice(2);
  const events = parseInt(eventsArg, 10);
  const callers = parseInt(callersArg, 10);
  const warmup = parseInt(warmupArg || "0", 10);
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB || process.env.AWS_ENDPOINT_URL;
  if (!table || !(events > 0) || !(callers > 0) || !(warmup >= 0) || !endpoint) {
    fail("usage: AWS_ENDPOINT_URL_DYNAMODB=URL node driver.js TABLE EVENTS CALLERS [WARMUP]");
  }
  // The package configures the SDK it is given; the endpoint is the one setting it lacks.
  AWS.config.update({ endpoint: endpoint });
  const es = new DynamoDbEventStore({
    AWS: AWS,
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
    region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || "us-east-1",
    dynamoDbTable: table,
    sslEnabled: endpoint.startsWith("https:"),
  });
  // The package reports a failure as `true`, without the error: the trace says which put.
  let lastTrace = "";
  es.on("~trace", (line) => { lastTrace = line; });

  run(es, warmup, callers, "warm-up", () => {
    const start = process.hrtime.bigint();
    run(es, events, callers, "timed", () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      process.stdout.write(JSON.stringify({ events: events, seconds: seconds }) + "\n");
    }, () => lastTrace);
  }, () => lastTrace);
}

// run does n puts with the given number of concurrent callers, then calls done.
function run(es, n, callers, phase, done, trace) {
  if (n === 0) return done();
  let started = 0, finished = 0;
  const next = (w) => {
    if (started >= n) return;
    const i = started++;
    es.put({ my: "event", w: w, i: i }, (error) => {
      if (error) fail(`${phase} put ${i} failed (${trace()})`);
      if (++finished === n) return done();
      next(w);
    });
  };
  for (let w = 0; w < Math.min(callers, n); w++) next(w);
}

function fail(message) {
  process.stderr.write("driver: " + message + "\n");
  process.exit(1);
}

main();
