// berth's launcher for one berth's PGlite: pglite-socket's server on a unix socket
// in a private directory (PGlite lets any password in, so the socket is the lock),
// one connection at a time (PGlite has one session). berth copies this file next to
// its npm install of PGlite, so the imports below resolve there.
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    db: { type: "string" },
    path: { type: "string" },
    extensions: { type: "string", default: "" },
  },
});
const extensions = {};
for (const name of values.extensions.split(",").filter(Boolean)) {
  extensions[name] = (await import(`@electric-sql/pglite/contrib/${name}`))[name];
}
const db = await PGlite.create(values.db, { extensions });
const server = new PGLiteSocketServer({ db, path: values.path, maxConnections: 1 });
await server.start();
// pglite-socket also sets Node's own connection limit; over a unix socket, one
// connection Node turns away leaves it turning away every later one. pglite-socket's
// own check ("Too many connections") is the limit instead.
server.server.maxConnections = undefined;
console.log(`PGLiteSocketServer listening on ${JSON.stringify({ path: values.path })}`);

const stop = async () => {
  await server.stop();
  await db.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
