import * as assert from "node:assert/strict";
import { test } from "node:test";

import {
  type Connection,
  connectionName,
  connectionsScope,
  DATABASE_CLIENTS,
  databaseClientFields,
  isConnection,
  SQLTOOLS,
  sqltoolsConnection,
  withConnection,
} from "../connect";

const connection: Connection = {
  name: "1a2b3c4d",
  host: "127.0.0.1",
  port: 55432,
  database: "shop_feature_cart_1a2b3c4d",
  user: "berth_1a2b3c4d",
  url: "postgresql://berth_1a2b3c4d:****@127.0.0.1:55432/shop_feature_cart_1a2b3c4d",
};

test("SQLTools gets a PostgreSQL connection without any password", () => {
  const entry = sqltoolsConnection({ ...connection, password: "s3cret" });
  assert.deepEqual(entry, {
    name: "berth shop_feature_cart",
    group: "berth",
    driver: "PostgreSQL",
    server: "127.0.0.1",
    port: 55432,
    database: "shop_feature_cart_1a2b3c4d",
    username: "berth_1a2b3c4d",
  });
  // Neither password nor askForPassword: SQLTools' "Driver Credentials" mode asks once.
  assert.ok(!JSON.stringify(entry).includes("s3cret"));
  assert.ok(!("password" in entry) && !("askForPassword" in entry));
  assert.equal(SQLTOOLS, "mtxr.sqltools");
});

test("the berth's entry replaces its earlier one and leaves the others alone", () => {
  const other: { name: string; port?: number; driver?: string } = { name: "prod", driver: "PostgreSQL" };
  const old = { name: "berth shop_feature_cart", port: 1 };
  const entry = { name: "berth shop_feature_cart", port: 55432 };
  assert.deepEqual(withConnection([other, old], entry), [other, entry]);
  assert.deepEqual(withConnection([other], entry), [other, entry]);
  assert.deepEqual(withConnection(undefined, entry), [entry]);
  const list = [other];
  withConnection(list, entry);
  assert.deepEqual(list, [other], "the setting's own array is not changed in place");
});

test("user settings, unless the workspace or folder lists connections (SQLTools reads the most specific)", () => {
  assert.equal(connectionsScope(undefined), "global");
  assert.equal(connectionsScope({ workspaceValue: undefined }), "global");
  assert.equal(connectionsScope({ workspaceValue: [] }), "workspace");
  assert.equal(connectionsScope({ workspaceValue: [], workspaceFolderValue: [] }), "workspaceFolder");
});

test("Database Client gets the form's values to copy; the password is not among them", () => {
  const fields = databaseClientFields({ ...connection, password: "s3cret" });
  assert.deepEqual(fields, [
    { label: "Connection name", value: "berth shop_feature_cart" },
    { label: "Server type", value: "PostgreSQL" },
    { label: "Host", value: "127.0.0.1" },
    { label: "Port", value: "55432" },
    { label: "Username", value: "berth_1a2b3c4d" },
    { label: "Database", value: "shop_feature_cart_1a2b3c4d" },
  ]);
  assert.ok(!JSON.stringify(fields).includes("s3cret"));
  assert.deepEqual([...DATABASE_CLIENTS], ["cweijan.vscode-database-client2", "cweijan.vscode-mysql-client2"]);
});

test("a connection is named after the berth, as the status bar shows it", () => {
  assert.equal(connectionName(connection), "berth shop_feature_cart");
  assert.equal(connectionName({ ...connection, database: "legacy_db" }), "berth legacy_db");
});

test("the server's connection is checked before use", () => {
  assert.ok(isConnection(connection));
  assert.ok(!isConnection(null));
  assert.ok(!isConnection({ ...connection, port: "55432" }));
  assert.ok(!isConnection({ host: "h" }));
});
