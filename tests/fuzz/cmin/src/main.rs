//! Edge coverage of `ylokh::fuzzing::check` for each input of a corpus directory, and a
//! smallest-first greedy set cover of it (see run.sh). ylokh is compiled with SanitizerCoverage
//! inline 8-bit counters (instrument.sh); this program is not, and reads them. Prints the names
//! to keep, one a line; the figures go to stderr.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// The counter sections the instrumented code registered: (start, length).
static COUNTERS: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

/// Called by each instrumented module's constructor, before main, with its counters.
///
/// # Safety
/// Called by the instrumentation with a valid `[start, stop)` range.
#[no_mangle]
pub unsafe extern "C" fn __sanitizer_cov_8bit_counters_init(start: *mut u8, stop: *mut u8) {
    let range = (start as usize, stop as usize - start as usize);
    let mut counters = COUNTERS.lock().unwrap();
    if range.1 > 0 && !counters.contains(&range) {
        counters.push(range);
    }
}

fn sections() -> Vec<(usize, usize)> {
    COUNTERS.lock().unwrap().clone()
}

fn reset() {
    for (start, len) in sections() {
        // SAFETY: the range the instrumentation registered; nothing else runs meanwhile.
        unsafe { std::ptr::write_bytes(start as *mut u8, 0, len) };
    }
}

/// The edges the last run reached (indices over all sections).
fn edges() -> BTreeSet<usize> {
    let mut hit = BTreeSet::new();
    let mut base = 0;
    for (start, len) in sections() {
        // SAFETY: as in reset; read after the run, on this thread.
        let counters = unsafe { std::slice::from_raw_parts(start as *const u8, len) };
        hit.extend(
            counters
                .iter()
                .enumerate()
                .filter(|(_, &c)| c != 0)
                .map(|(i, _)| base + i),
        );
        base += len;
    }
    hit
}

struct Input {
    name: String,
    size: usize,
    edges: BTreeSet<usize>,
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: ylokh-cmin DIR");
    assert!(
        !sections().is_empty(),
        "ylokh is not instrumented: build with run.sh"
    );
    let mut inputs = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        reset();
        ylokh::fuzzing::check(&data);
        inputs.push(Input {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            size: data.len(),
            edges: edges(),
        });
    }
    // Twice the same input reaches the same edges: the counters are a sound measure.
    if let Some(first) = inputs.first() {
        let data = std::fs::read(format!("{dir}/{}", first.name)).unwrap();
        reset();
        ylokh::fuzzing::check(&data);
        assert_eq!(edges(), first.edges, "coverage is not deterministic");
    }
    let all: BTreeSet<usize> = inputs
        .iter()
        .flat_map(|i| i.edges.iter().copied())
        .collect();
    let mut covered = BTreeSet::new();
    let mut keep: Vec<&Input> = inputs
        .iter()
        .filter(|i| !i.name.starts_with("cov-"))
        .collect();
    for input in &keep {
        covered.extend(input.edges.iter().copied());
    }
    loop {
        // The input adding the most uncovered edges; of equals, the smallest, then by name.
        let best = inputs
            .iter()
            .filter(|i| i.name.starts_with("cov-"))
            .map(|i| (i.edges.difference(&covered).count(), i))
            .filter(|(new, _)| *new > 0)
            .max_by(|(a, x), (b, y)| a.cmp(b).then(y.size.cmp(&x.size)).then(y.name.cmp(&x.name)));
        let Some((_, input)) = best else { break };
        covered.extend(input.edges.iter().copied());
        keep.push(input);
    }
    assert_eq!(covered, all);
    keep.sort_by(|a, b| a.name.cmp(&b.name));
    eprintln!(
        "{} inputs ({} bytes) reach {} edges of {}; {} inputs ({} bytes) reach them all",
        inputs.len(),
        inputs.iter().map(|i| i.size).sum::<usize>(),
        all.len(),
        sections().iter().map(|s| s.1).sum::<usize>(),
        keep.len(),
        keep.iter().map(|i| i.size).sum::<usize>(),
    );
    for input in keep {
        println!("{}", input.name);
    }
}
