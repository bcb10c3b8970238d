// Many runs of the real Prisma CLI in one Node process, for the differential test: each line of
// stdin is one command line (arguments separated by tabs: `migrate\tstatus`), run by the CLI's
// own main function (`build/index.js` of the installed prisma package, loaded once), exactly
// what `prisma ARGS` runs in the current directory, without a Node start and the bundle's
// load per command. Its output goes to stdout (what it writes to stderr too, in order); each answer
// ends with a line `== exit N`, N being the exit code the CLI would have exited with (its
// commands call process.exit, which is caught here).
//
//   node session.js NODE_MODULES      (NODE_MODULES: the one prisma.sh installed)
//
// The bundle does not export its main function: the session appends two lines to its source
// that hand it out and set the arguments it parses, both named as prisma 6.19.3's bundle names
// them. Another version's bundle is refused, not guessed at.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const Module = require('node:module')
const readline = require('node:readline')

const file = path.join(process.argv[2] || '', 'prisma', 'build', 'index.js')
const source = fs.readFileSync(file, 'utf8')
for (const needle of [
  'RH=process.argv.slice(2)',
  '_4t=Ye(RH,{"--config":String},!1,!0)',
  'async function D4t(){',
]) {
  if (!source.includes(needle)) {
    process.stderr.write(`session.js: ${file} is not prisma 6.19.3's bundle (no ${needle})\n`)
    process.exit(2)
  }
}
const hook =
  '\n;globalThis.__prismaSession={args(a){RH=a;_4t=Ye(RH,{"--config":String},!1,!0)},main:D4t};\n'
const cli = new Module(file, module)
cli.filename = file
cli.paths = Module._nodeModulePaths(path.dirname(file))
cli._compile(source + hook, file)
const session = globalThis.__prismaSession

const write = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) }
const realExit = process.exit
class Exit {
  constructor(code) {
    this.code = code
  }
}

async function run(args) {
  process.argv = [process.argv[0], file, ...args]
  session.args(args)
  process.exitCode = undefined
  process.exit = (code) => {
    throw new Exit(code ?? process.exitCode ?? 0)
  }
  process.stderr.write = write.out
  try {
    return await session.main()
  } catch (e) {
    if (e instanceof Exit) return e.code
    // What the CLI's own handler prints for an error that escapes a command.
    console.error('Error: ' + (e && e.message ? e.message : e))
    return 1
  } finally {
    process.exit = realExit
    process.stderr.write = write.err
  }
}

// A rejection left behind by a command (a pool closing late) must not end the session.
process.on('unhandledRejection', (e) => write.err(`session.js: unhandled: ${e && e.message}\n`))

const lines = readline.createInterface({ input: process.stdin })
const queue = []
let busy = false
async function drain() {
  if (busy) return
  busy = true
  while (queue.length > 0) {
    const line = queue.shift()
    const code = await run(line.split('\t'))
    write.out(`\n== exit ${code}\n`)
  }
  busy = false
}
lines.on('line', (line) => {
  if (line.length > 0) {
    queue.push(line)
    drain()
  }
})
lines.on('close', async () => {
  while (busy || queue.length > 0) await new Promise((r) => setTimeout(r, 10))
  realExit(0)
})
