// Parse an env file the way one JavaScript loader does and print the result as JSON:
//   node envloaders.mjs LOADER FILE
// LOADER: dotenv (dotenv.config + dotenv-expand, as a server script does), vite
// (Vite's loadEnv), next (@next/env's loadEnvConfig). Vite and Next.js read only
// their own file names: FILE is copied to .env in a fresh directory for them.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const [loader, file] = process.argv.slice(2)

function asDotenvDir () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-env-'))
  fs.copyFileSync(file, path.join(dir, '.env'))
  return dir
}

let values
if (loader === 'dotenv') {
  const dotenv = require('dotenv')
  const { expand } = require('dotenv-expand')
  values = expand(dotenv.config({ path: file, quiet: true })).parsed
} else if (loader === 'vite') {
  const { loadEnv } = await import('vite')
  values = loadEnv('development', asDotenvDir(), '')
} else if (loader === 'next') {
  const { loadEnvConfig } = require('@next/env')
  const quiet = { info () {}, error: console.error }
  values = loadEnvConfig(asDotenvDir(), true, quiet).combinedEnv
} else {
  throw new Error(`unknown loader ${loader}`)
}
process.stdout.write(JSON.stringify(values))
