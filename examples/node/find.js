// Where libylokh comes from (no koffi here: install.js uses this before anything is loaded).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/**
 * The package's own copy of the library: in the npm tarball dist/build.sh makes (one directory
 * per platform, e.g. prebuilt/linux-x64/), or made by install.js from a checkout.
 */
export const prebuilt = join(here, 'prebuilt', `${process.platform}-${process.arch}`, 'libylokh.so');

/**
 * Where an installed copy came from: `npm install --install-links <checkout>/examples/node` copies
 * the package into node_modules and records its source as a "file:" path, relative to the
 * project, in node_modules/.package-lock.json (and the project's package-lock.json and
 * package.json).
 */
function installedFrom() {
  const modules = dirname(here);
  if (basename(modules) !== 'node_modules') return null;
  const project = dirname(modules);
  const name = basename(here);
  const read = (file) => {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return null;
    }
  };
  const specs = [
    read(join(modules, '.package-lock.json'))?.packages?.[`node_modules/${name}`]?.resolved,
    read(join(project, 'package-lock.json'))?.packages?.[`node_modules/${name}`]?.resolved,
    read(join(project, 'package.json'))?.dependencies?.[name],
  ];
  const spec = specs.find((s) => typeof s === 'string' && s.startsWith('file:'));
  return spec ? resolve(project, spec.slice('file:'.length)) : null;
}

// (A directory: a tarball installed from a checkout's dist/ is no checkout.)
const isCheckout = (dir) => dir && statSync(dir, { throwIfNoEntry: false })?.isDirectory() &&
  existsSync(join(dir, '..', '..', 'Cargo.toml'));
const source = [here, installedFrom()].find(isCheckout);
/** The libylokh checkout this package is, or was installed from (examples/node in it). */
export const checkout = source ? resolve(source, '..', '..') : null;

function checkoutBuilds() {
  if (!checkout) return [];
  const targets = [process.env.CARGO_TARGET_DIR, join(checkout, 'target')].filter(Boolean);
  return targets.flatMap((t) => ['release', 'debug'].map((p) => join(resolve(checkout, t), p, 'libylokh.so')));
}

/**
 * Where the library comes from, in order: YLOKH_LIB; the package's prebuilt/ copy; the checkout's
 * target/release, target/debug; else (in a checkout) it is built now with cargo; else the
 * system's libylokh.so.0.
 */
export function findLibrary({ build = true } = {}) {
  if (process.env.YLOKH_LIB) return process.env.YLOKH_LIB;
  const found = [prebuilt, ...checkoutBuilds()].find((p) => existsSync(p));
  if (found) return found;
  if (checkout && build) return buildFromCheckout();
  return 'libylokh.so.0';
}

/** `cargo build --release` in the checkout, then a copy into prebuilt/. */
export function buildFromCheckout() {
  process.stderr.write('ylokh: building libylokh with `cargo build --release` (once; a few minutes)\n');
  try {
    execFileSync('cargo', ['build', '--release', '--lib', '--manifest-path', join(checkout, 'Cargo.toml')], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch (e) {
    throw new Error(`ylokh: building libylokh failed (${e.message}); it needs Rust's cargo (https://rustup.rs), ` +
      'or set YLOKH_LIB to the path of a built libylokh.so');
  }
  const built = checkoutBuilds().find((p) => existsSync(p) && p.includes('release'));
  mkdirSync(dirname(prebuilt), { recursive: true });
  copyFileSync(built, prebuilt);
  return prebuilt;
}

