// What every script shares: the gateway's URL and key from argv, a fetch that records
// what went over the wire, and one JSON line out.
const GATEWAY = process.argv[2];
const KEY = process.argv[3];
const HEADERS = { authorization: `Bearer ${KEY}` };

const traffic = [];

async function recordingFetch(input, init = {}) {
  let operations = [];
  if (typeof init.body === "string") {
    const body = JSON.parse(init.body);
    operations = (Array.isArray(body) ? body : [body]).map((op) => ("query" in op ? "query" : "hash"));
  } else {
    const url = new URL(typeof input === "string" ? input : input.url);
    operations = [url.searchParams.has("query") ? "query" : "hash"];
  }
  const response = await fetch(input, init);
  traffic.push({
    method: init.method || "GET",
    batch: typeof init.body === "string" && init.body.trimStart().startsWith("["),
    operations,
    status: response.status,
  });
  return response;
}

function done(result) {
  process.stdout.write(JSON.stringify({ ...result, traffic }) + "\n");
}

function fail(error) {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(1);
}

module.exports = { GATEWAY, KEY, HEADERS, recordingFetch, done, fail };
