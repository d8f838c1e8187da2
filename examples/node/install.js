// npm's "install" script: makes sure a libylokh is there to load. YLOKH_LIB or a library already
// found: nothing to do. Installed from a libylokh checkout: `cargo build --release`, copied into
// prebuilt/. Otherwise the system's libylokh.so.0 will be loaded (install libylokh).
// (npm 11 runs a dependency's install script only once allowed: `npm install-scripts approve ylokh`;
// when it did not run, the first import builds the library instead.)
import { buildFromCheckout, checkout, findLibrary } from './find.js';

const found = findLibrary({ build: false });
if (found !== 'libylokh.so.0') {
  console.log(`ylokh: using ${found}`);
} else if (checkout) {
  console.log(`ylokh: built ${buildFromCheckout()}`);
} else {
  console.log('ylokh: no libylokh in this package; the system\'s libylokh.so.0 will be loaded (or set YLOKH_LIB)');
}
