//! The synthetic demo database: a Roraima-shaped OMS (15 real municipalities, 24 conjuntos,
//! about 218 000 premises at scale 1.0) with open events of both kinds and the rows that
//! rule 1 must exclude, so the service answers something plausible without Oracle.
//!
//! Deterministic for a given (scale, seed): a hand-written splitmix64 drives every choice
//! and nothing iterates a hash map. The file is written next to the target and renamed into
//! place, so a reader never sees a half-written database and a crash leaves no corrupt file.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, params};

use super::demo_data::{
    AGENCY, CELLS, DIST, MUNICIPIOS, OTHER_AGENCY, OTHER_DIST, TYCOD_PROGRAMADO,
    TYCODS_NAO_PROGRAMADOS, conjuntos,
};
use super::error::translate;
use super::schema::{INDEXES_SQL, SCHEMA_SQL};
use crate::config::names;
use crate::source::SourceError;

/// Premises at scale 1.0 (Roraima Energia serves about 218 thousand UCs).
const PREMISES_AT_SCALE_1: f64 = 218_000.0;

/// Largest accepted scale (about 11 million premises): beyond it, a typo, not a benchmark.
pub const MAX_SCALE: f64 = crate::domain::MAX_DEMO_SCALE;

/// What [`generate`] wrote, for a one-line log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// Distinct premises that rules 3 and 5 can place (non-null transformer and IBGE).
    pub premises: usize,
    /// Distribution transformers of the distributor (devices that feed premises).
    pub transformers: usize,
    /// Conjuntos of the network.
    pub conjuntos: usize,
    /// Municipalities of the network.
    pub municipalities: usize,
    /// Active unplanned events (rule 1 keeps them, rule 2 finds no task).
    pub open_unplanned: usize,
    /// Active planned events (with switch-plan tasks).
    pub open_planned: usize,
    /// Rows of `SWITCH_PLAN_TASKS` (some outages have several).
    pub switch_plan_tasks: usize,
    /// Events that rule 1 must exclude: closed, other agency, `UC_NOXFMR`, null `TYCOD`,
    /// null or zero `DEV_ID`, unconfirmed.
    pub excluded_events: usize,
    /// Premise rows that rule 3 must ignore (null transformer or null IBGE code).
    pub excluded_premise_rows: usize,
    /// Premise rows repeated (rule 5 counts them once).
    pub duplicate_premise_rows: usize,
    /// Wall time of the generation.
    pub elapsed: Duration,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} premises on {} transformers in {} conjuntos and {} municipalities; \
             open events: {} unplanned, {} planned ({} switch-plan tasks); \
             excluded: {} events, {} premise rows; {} duplicate premise rows; {} ms",
            self.premises,
            self.transformers,
            self.conjuntos,
            self.municipalities,
            self.open_unplanned,
            self.open_planned,
            self.switch_plan_tasks,
            self.excluded_events,
            self.excluded_premise_rows,
            self.duplicate_premise_rows,
            self.elapsed.as_millis()
        )
    }
}

/// Generates the demo database at `path` (creating parent directories, replacing any file
/// there atomically). `scale` 1.0 is Roraima (about 218 000 premises, ~30 unplanned and ~8
/// planned open events); 5.0 gives more than a million premises. Same (scale, seed), same
/// database.
pub fn generate(path: &Path, scale: f64, seed: u64) -> Result<DemoSummary, SourceError> {
    if !(scale.is_finite() && scale > 0.0 && scale <= MAX_SCALE) {
        return Err(SourceError::permanent(
            None,
            format!("demo scale must be a finite number in (0, {MAX_SCALE}], got {scale}"),
        ));
    }
    let started = Instant::now();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(|e| io_error("create the directory", &dir, &e))?;
    let tmp = temporary_path(&dir, path);
    let result = write_database(&tmp, scale, seed).and_then(|summary| {
        publish(&tmp, path, &dir)?;
        Ok(summary)
    });
    match result {
        Ok(summary) => Ok(DemoSummary {
            elapsed: started.elapsed(),
            ..summary
        }),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// A unique sibling of `path`: same directory (so the rename is atomic), hidden name.
fn temporary_path(dir: &Path, path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map_or_else(
        || "demo.db".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Makes the finished temporary file durable, then renames it over `path`.
fn publish(tmp: &Path, path: &Path, dir: &Path) -> Result<(), SourceError> {
    fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error("flush", tmp, &e))?;
    fs::rename(tmp, path).map_err(|e| io_error("rename the demo database into", path, &e))?;
    // Durability of the rename itself; not every platform can open a directory.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn io_error(action: &str, path: &Path, e: &std::io::Error) -> SourceError {
    SourceError::permanent(
        None,
        format!(
            "cannot {action} {}: {e}; check {} and the directory permissions",
            path.display(),
            names::SQLITE_PATH.var
        ),
    )
}

fn write_database(tmp: &Path, scale: f64, seed: u64) -> Result<DemoSummary, SourceError> {
    let sql = |e| translate(&e, tmp);
    if tmp.exists() {
        fs::remove_file(tmp).map_err(|e| io_error("remove the stale", tmp, &e))?;
    }
    let mut conn = Connection::open(tmp).map_err(sql)?;
    // A temporary file that is deleted on failure needs no journal and no fsync per commit;
    // `publish` syncs it once at the end.
    conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        .map_err(sql)?;
    conn.execute_batch(SCHEMA_SQL).map_err(sql)?;
    let tx = conn.transaction().map_err(sql)?;
    let summary = Generator::new(scale, seed).fill(&tx).map_err(sql)?;
    tx.commit().map_err(sql)?;
    // Index after the bulk load, then give the planner statistics.
    conn.execute_batch(INDEXES_SQL).map_err(sql)?;
    conn.execute_batch("ANALYZE").map_err(sql)?;
    conn.close().map_err(|(_, e)| sql(e))?;
    Ok(summary)
}

/// splitmix64: tiny, fast, and good enough for synthetic data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// Uniform index below `n` (`n` > 0).
    fn index(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A distribution transformer of the demo network.
struct Transformer {
    name: String,
    premises: i64,
}

struct Generator {
    rng: SplitMix64,
    scale: f64,
    next_premise: i64,
    next_event: i64,
    next_task: i64,
}

/// `base * scale`, rounded, at least `min`.
fn scaled(base: f64, scale: f64, min: usize) -> usize {
    ((base * scale).round() as usize).max(min)
}

impl Generator {
    fn new(scale: f64, seed: u64) -> Self {
        Self {
            rng: SplitMix64(seed),
            scale,
            next_premise: 1_000_001,
            next_event: 2_026_000_001,
            next_task: 1,
        }
    }

    fn fill(mut self, tx: &Transaction<'_>) -> rusqlite::Result<DemoSummary> {
        let mut premise = tx.prepare(
            "INSERT INTO CISPERSL (PREMISE, XFMR, HXGN_COD_MUNICIPIO_IBGE) VALUES (?1, ?2, ?3)",
        )?;
        let mut device =
            tx.prepare("INSERT INTO OMS_CONNECTIVITY (DEV_NAME, CONJ, DIST) VALUES (?1, ?2, ?3)")?;

        // The network: transformers of ~10-40 premises filling each (conjunto, municipio).
        let total = PREMISES_AT_SCALE_1 * self.scale;
        let mut transformers: Vec<Transformer> = Vec::new();
        let mut premises = 0usize;
        let mut duplicate_premise_rows = 0usize;
        let mut cells = Vec::with_capacity(CELLS.len());
        for &(conj, ibge, share) in &CELLS {
            let first = transformers.len();
            let weight = MUNICIPIOS.iter().find(|m| m.0 == ibge).map_or(0.0, |m| m.2);
            let mut left = ((total * weight * share).round() as i64).max(10);
            while left > 0 {
                let size = (self.rng.range(10, 40) as i64).min(left);
                left -= size;
                let name = format!("TRF{:07}", transformers.len() + 1);
                device.execute(params![name, conj, DIST])?;
                for _ in 0..size {
                    let id = self.premise_id();
                    premise.execute(params![id, name, ibge])?;
                    // About one in a thousand premises is listed twice, as in the OMS.
                    if self.rng.index(1000) == 0 {
                        premise.execute(params![id, name, ibge])?;
                        duplicate_premise_rows += 1;
                    }
                }
                premises += size as usize;
                transformers.push(Transformer {
                    name,
                    premises: size,
                });
            }
            cells.push(first..transformers.len());
        }
        // Border transformers: one per conjunto spanning two municipios, feeding both.
        let mut border = Vec::new();
        for pair in CELLS.windows(2).filter(|w| w[0].0 == w[1].0) {
            let name = format!("TRF{:07}", transformers.len() + 1);
            device.execute(params![name, pair[0].0, DIST])?;
            let mut size = 0;
            for &(_, ibge, _) in pair {
                let n = self.rng.range(5, 15) as i64;
                for _ in 0..n {
                    premise.execute(params![self.premise_id(), name, ibge])?;
                }
                size += n;
            }
            premises += size as usize;
            border.push(transformers.len());
            transformers.push(Transformer {
                name,
                premises: size,
            });
        }
        // Upstream devices (feeders) of each conjunto: in the network, but feed no premise.
        let mut last_conj = 0;
        for &(conj, _, _) in &CELLS {
            if conj != last_conj {
                device.execute(params![format!("ALM{conj}"), conj, DIST])?;
                last_conj = conj;
            }
        }

        // Noise that rules 3 and 5 must ignore.
        let excluded_premise_rows = scaled(total / 500.0, 1.0, 1);
        for i in 0..excluded_premise_rows {
            let t = &transformers[self.rng.index(transformers.len())];
            if i % 2 == 0 {
                premise.execute(params![self.premise_id(), None::<&str>, 1_400_100])?;
            } else {
                premise.execute(params![self.premise_id(), t.name, None::<i64>])?;
            }
        }
        // Another distributor's devices, and a few of ours also listed under it with another
        // conjunto (rule 3 keeps only DIST = the distributor).
        for i in 0..scaled(40.0, self.scale, 5) {
            device.execute(params![
                format!("AM-TRF{:06}", i + 1),
                9_001 + (i % 7) as i64,
                OTHER_DIST
            ])?;
        }
        for &i in &border {
            device.execute(params![transformers[i].name, 9_999, OTHER_DIST])?;
        }

        // Events.
        let mut event = tx.prepare(
            "INSERT INTO AGENCY_EVENT \
             (NUM_1, AG_ID, IS_OPEN, NUM_CUST, DEV_ID, DEV_NAME, TYCOD, HXGN_DT_ORACLE) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut task =
            tx.prepare("INSERT INTO SWITCH_PLAN_TASKS (ID, OUTAGE_NUM) VALUES (?1, ?2)")?;
        let mut ev = |g: &mut Self, e: Event<'_>| -> rusqlite::Result<i64> {
            let num = g.next_event;
            g.next_event += 1;
            let hour = g.rng.range(0, 23);
            let minute = g.rng.range(0, 59);
            let confirmed = e
                .confirmed
                .then(|| format!("2026-04-01 {hour:02}:{minute:02}:00"));
            event.execute(params![
                num, e.ag_id, e.is_open, e.num_cust, e.dev_id, e.dev_name, e.tycod, confirmed
            ])?;
            Ok(num)
        };

        // Where events fall: two in three on a transformer of the next (conjunto, municipio)
        // of a shuffled tour, so the answer spreads over dozens of pairs; the third on any
        // transformer, so Boa Vista gets its share.
        let mut tour: Vec<usize> = (0..cells.len()).collect();
        for i in (1..tour.len()).rev() {
            let j = self.rng.index(i + 1);
            tour.swap(i, j);
        }
        let place = |g: &mut Self, i: usize| {
            if i % 3 == 2 {
                g.rng.index(transformers.len())
            } else {
                let cell = &cells[tour[(i - i / 3) % tour.len()]];
                cell.start + g.rng.index(cell.len())
            }
        };

        let open_unplanned = scaled(30.0, self.scale, 3);
        for i in 0..open_unplanned {
            // The first ones sit on border transformers, so "counts in both" always shows.
            let t = if i < border.len().min(2) {
                border[i]
            } else {
                place(&mut self, i)
            };
            let tycod = TYCODS_NAO_PROGRAMADOS[self.rng.index(TYCODS_NAO_PROGRAMADOS.len())];
            let e = Event::active(&transformers[t], t, tycod);
            ev(&mut self, e)?;
        }
        let open_planned = scaled(8.0, self.scale, 2);
        let mut switch_plan_tasks = 0;
        for i in 0..open_planned {
            let t = place(&mut self, open_unplanned + i);
            let num = ev(
                &mut self,
                Event::active(&transformers[t], t, TYCOD_PROGRAMADO),
            )?;
            // The first planned outage has several tasks: it must still count once.
            let tasks = if i == 0 { 3 } else { self.rng.range(1, 3) };
            for _ in 0..tasks {
                task.execute(params![self.task_id(), num])?;
                switch_plan_tasks += 1;
            }
        }

        // Events that rule 1 excludes; each would count if the rule were missing.
        let mut excluded_events = 0;
        let kinds: [(f64, Exclusion); 7] = [
            (300.0, |e| Event { is_open: "F", ..e }),
            (10.0, |e| Event {
                ag_id: OTHER_AGENCY,
                ..e
            }),
            (10.0, |e| Event {
                tycod: Some("UC_NOXFMR"),
                ..e
            }),
            (2.0, |e| Event { tycod: None, ..e }),
            (3.0, |e| Event { dev_id: None, ..e }),
            (3.0, |e| Event {
                dev_id: Some(0),
                ..e
            }),
            (5.0, |e| Event {
                confirmed: false,
                ..e
            }),
        ];
        for (base, make) in kinds {
            for i in 0..scaled(base, self.scale, 1) {
                let t = self.rng.index(transformers.len());
                let num = ev(
                    &mut self,
                    make(Event::active(&transformers[t], t, "FALTA_FASE")),
                )?;
                // Some closed outages were planned: their tasks stay in the table.
                if i % 10 == 0 {
                    task.execute(params![self.task_id(), num])?;
                    switch_plan_tasks += 1;
                }
                excluded_events += 1;
            }
        }

        Ok(DemoSummary {
            premises,
            transformers: transformers.len(),
            conjuntos: conjuntos(),
            municipalities: MUNICIPIOS.len(),
            open_unplanned,
            open_planned,
            switch_plan_tasks,
            excluded_events,
            excluded_premise_rows,
            duplicate_premise_rows,
            elapsed: Duration::ZERO,
        })
    }

    fn premise_id(&mut self) -> i64 {
        let id = self.next_premise;
        self.next_premise += 1;
        id
    }

    fn task_id(&mut self) -> i64 {
        let id = self.next_task;
        self.next_task += 1;
        id
    }
}

/// Turns an active event into one that rule 1 excludes.
type Exclusion = for<'a> fn(Event<'a>) -> Event<'a>;

/// The columns of one `AGENCY_EVENT` row (the number is assigned on insert).
struct Event<'a> {
    ag_id: i64,
    is_open: &'static str,
    num_cust: i64,
    dev_id: Option<i64>,
    dev_name: &'a str,
    tycod: Option<&'static str>,
    confirmed: bool,
}

impl<'a> Event<'a> {
    /// An event that rule 1 keeps, on transformer number `index`, affecting all its premises.
    fn active(t: &'a Transformer, index: usize, tycod: &'static str) -> Self {
        Self {
            ag_id: AGENCY,
            is_open: "T",
            num_cust: t.premises,
            dev_id: Some(100_000 + index as i64),
            dev_name: &t.name,
            tycod: Some(tycod),
            confirmed: true,
        }
    }
}
