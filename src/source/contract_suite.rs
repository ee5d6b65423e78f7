//! The contract of [`InterrupcaoSource`], as one suite that every adapter runs: the same
//! fixtures, the same expected rows (order included), whatever the technology.
//!
//! An adapter's tests implement [`FixtureDatabase`] (create the four OMS tables, insert a
//! [`Fixture`], drop them, and build the source under test) and call
//! [`run_contract_suite`]. Fixtures are plain data with the OMS column names of docs/domain.md;
//! each pins one rule with exact numbers, chosen so that a missing rule changes the answer.
//! Every source is built with the default binds: agency 370, distributor `"370"`.

use async_trait::async_trait;

use super::InterrupcaoSource;
use crate::domain::RawInterrupcaoRow;

/// Boa Vista and Cantá: `BOA_VISTA` < `CANTA`, which the ordering fixture relies on.
pub const BOA_VISTA: i64 = 1_400_100;
/// IBGE code of Cantá.
pub const CANTA: i64 = 1_400_175;
/// IBGE code of Mucajaí.
pub const MUCAJAI: i64 = 1_400_308;

/// One `AGENCY_EVENT` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyEventRow {
    /// `NUM_1`.
    pub num_1: i64,
    /// `AG_ID`.
    pub ag_id: Option<i64>,
    /// `IS_OPEN` (`"T"` or `"F"`).
    pub is_open: Option<&'static str>,
    /// `NUM_CUST`.
    pub num_cust: Option<i64>,
    /// `DEV_ID`.
    pub dev_id: Option<i64>,
    /// `DEV_NAME`.
    pub dev_name: Option<&'static str>,
    /// `TYCOD`.
    pub tycod: Option<&'static str>,
    /// `HXGN_DT_ORACLE` as `YYYY-MM-DD HH:MM:SS` (Brasília); an adapter converts it to its
    /// timestamp type (Oracle: `TO_DATE(.., 'YYYY-MM-DD HH24:MI:SS')`).
    pub hxgn_dt_oracle: Option<&'static str>,
}

/// One `OMS_CONNECTIVITY` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectivityRow {
    /// `DEV_NAME`.
    pub dev_name: &'static str,
    /// `CONJ`.
    pub conj: i64,
    /// `DIST` (text).
    pub dist: &'static str,
}

/// One `CISPERSL` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PremiseRow {
    /// `PREMISE`.
    pub premise: i64,
    /// `XFMR`.
    pub xfmr: Option<&'static str>,
    /// `HXGN_COD_MUNICIPIO_IBGE`.
    pub ibge: Option<i64>,
}

/// The content of the four tables and the exact answer expected from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    /// Shown when the fixture fails.
    pub name: &'static str,
    /// `AGENCY_EVENT`.
    pub agency_events: Vec<AgencyEventRow>,
    /// `SWITCH_PLAN_TASKS.OUTAGE_NUM`, one task per item; an adapter numbers the tasks.
    pub switch_plan_tasks: Vec<i64>,
    /// `OMS_CONNECTIVITY`.
    pub connectivity: Vec<ConnectivityRow>,
    /// `CISPERSL`.
    pub premises: Vec<PremiseRow>,
    /// Rows `fetch_interrupcoes` must return, in this order.
    pub expected: Vec<RawInterrupcaoRow>,
}

/// A database an adapter's tests can fill with fixtures.
#[async_trait]
pub trait FixtureDatabase: Send + Sync {
    /// Creates the four tables, empty.
    async fn create_tables(&self) -> anyhow::Result<()>;
    /// Inserts every row of the fixture.
    async fn insert(&self, fixture: &Fixture) -> anyhow::Result<()>;
    /// Drops the four tables.
    async fn drop_tables(&self) -> anyhow::Result<()>;
    /// The source under test, reading these tables with the default binds (370, `"370"`).
    fn source(&self) -> Box<dyn InterrupcaoSource>;
}

/// Runs every fixture against `db`; panics listing every fixture whose answer differs.
pub async fn run_contract_suite(db: &dyn FixtureDatabase) {
    let mut failures = Vec::new();
    for fixture in fixtures() {
        if let Err(failure) = run_fixture(db, &fixture).await {
            failures.push(format!("fixture `{}`: {failure}", fixture.name));
        }
    }
    assert!(
        failures.is_empty(),
        "contract suite failed:\n{}",
        failures.join("\n")
    );
}

/// Creates the tables, inserts the fixture, fetches through the trait, drops the tables
/// (even when the answer is wrong), then compares.
pub async fn run_fixture(db: &dyn FixtureDatabase, fixture: &Fixture) -> Result<(), String> {
    db.create_tables()
        .await
        .map_err(|e| format!("create_tables: {e:#}"))?;
    let fetched = match db.insert(fixture).await {
        Ok(()) => db
            .source()
            .fetch_interrupcoes()
            .await
            .map_err(|e| format!("fetch_interrupcoes: {e}")),
        Err(e) => Err(format!("insert: {e:#}")),
    };
    db.drop_tables()
        .await
        .map_err(|e| format!("drop_tables: {e:#}"))?;
    let rows = fetched?;
    if rows == fixture.expected {
        Ok(())
    } else {
        Err(format!(
            "\n  expected: {:?}\n  fetched:  {:?}",
            fixture.expected, rows
        ))
    }
}

/// Every fixture of the contract, one per rule (docs/domain.md 1 to 6), plus the empty database.
pub fn fixtures() -> Vec<Fixture> {
    vec![
        empty_database(),
        rule_1_active_events(),
        rule_2_planned_and_unplanned(),
        rule_3_placement(),
        rule_4_sums(),
        rule_5_served_ucs(),
        rule_6_filter_and_order(),
    ]
}

/// An active event (rule 1 keeps it) on `dev_name`.
pub fn event(num_1: i64, dev_name: &'static str, num_cust: i64) -> AgencyEventRow {
    AgencyEventRow {
        num_1,
        ag_id: Some(370),
        is_open: Some("T"),
        num_cust: Some(num_cust),
        dev_id: Some(num_1 + 10_000),
        dev_name: Some(dev_name),
        tycod: Some("FALTA_FASE"),
        hxgn_dt_oracle: Some("2026-04-01 10:30:00"),
    }
}

/// A device of the distributor (`DIST` = `"370"`).
pub fn device(dev_name: &'static str, conj: i64) -> ConnectivityRow {
    ConnectivityRow {
        dev_name,
        conj,
        dist: "370",
    }
}

/// Premises `ids` fed by `xfmr` in `ibge`.
pub fn premises(
    ids: std::ops::RangeInclusive<i64>,
    xfmr: &'static str,
    ibge: i64,
) -> Vec<PremiseRow> {
    ids.map(|premise| PremiseRow {
        premise,
        xfmr: Some(xfmr),
        ibge: Some(ibge),
    })
    .collect()
}

/// An expected answer row.
pub fn row(
    conjunto: i64,
    municipio: i64,
    ucs_atendidas: i64,
    programada: i64,
    nao_programada: i64,
) -> RawInterrupcaoRow {
    RawInterrupcaoRow {
        conjunto: Some(conjunto),
        municipio: Some(municipio),
        qtd_ucs_atendidas: Some(ucs_atendidas),
        qtd_programada: Some(programada),
        qtd_nao_programada: Some(nao_programada),
    }
}

fn empty_database() -> Fixture {
    Fixture {
        name: "empty database: empty answer",
        agency_events: vec![],
        switch_plan_tasks: vec![],
        connectivity: vec![],
        premises: vec![],
        expected: vec![],
    }
}

/// Rule 1. Every excluded event carries a distinct power of two, so any leak shows which.
fn rule_1_active_events() -> Fixture {
    let bad = |num_1, num_cust| event(num_1, "T1", num_cust);
    Fixture {
        name: "rule 1: only active events of the agency count",
        agency_events: vec![
            event(1, "T1", 1),
            AgencyEventRow {
                ag_id: Some(7019),
                ..bad(2, 2)
            },
            AgencyEventRow {
                is_open: Some("F"),
                ..bad(3, 4)
            },
            AgencyEventRow {
                hxgn_dt_oracle: None,
                ..bad(4, 8)
            },
            AgencyEventRow {
                tycod: Some("UC_NOXFMR"),
                ..bad(5, 16)
            },
            AgencyEventRow {
                dev_id: None,
                ..bad(6, 32)
            },
            AgencyEventRow {
                dev_id: Some(0),
                ..bad(7, 64)
            },
            AgencyEventRow {
                dev_id: Some(-5),
                ..bad(8, 128)
            },
            // A NULL TYCOD is excluded, as by the distributor's Oracle view (NULL <> x is
            // not true).
            AgencyEventRow {
                tycod: None,
                ..bad(9, 256)
            },
        ],
        switch_plan_tasks: vec![],
        connectivity: vec![device("T1", 10)],
        premises: premises(1..=3, "T1", BOA_VISTA),
        expected: vec![row(10, BOA_VISTA, 3, 0, 1)],
    }
}

/// Rule 2. Outage 2 has three tasks and still counts once; tasks of unknown or closed
/// outages change nothing.
fn rule_2_planned_and_unplanned() -> Fixture {
    Fixture {
        name: "rule 2: planned when NUM_1 has a switch-plan task, once however many tasks",
        agency_events: vec![
            event(1, "T1", 5),
            event(2, "T1", 7),
            event(3, "T1", 11),
            AgencyEventRow {
                is_open: Some("F"),
                ..event(4, "T1", 100)
            },
        ],
        switch_plan_tasks: vec![2, 2, 2, 3, 4, 999],
        connectivity: vec![device("T1", 10)],
        premises: premises(1..=4, "T1", BOA_VISTA),
        expected: vec![row(10, BOA_VISTA, 4, 18, 5)],
    }
}

/// Rule 3.
fn rule_3_placement() -> Fixture {
    let mut cispersl = Vec::new();
    // A border transformer: 2 premises in Boa Vista, 3 in Cantá.
    cispersl.extend(premises(1..=2, "BORDA", BOA_VISTA));
    cispersl.extend(premises(3..=5, "BORDA", CANTA));
    // A premise-rich transformer: 50 premises must not multiply NUM_CUST.
    cispersl.extend(premises(101..=150, "RICO", BOA_VISTA));
    // Ignored: null IBGE (not served, no (30, NULL) pair), null XFMR.
    cispersl.push(PremiseRow {
        premise: 151,
        xfmr: Some("RICO"),
        ibge: None,
    });
    cispersl.push(PremiseRow {
        premise: 152,
        xfmr: None,
        ibge: Some(BOA_VISTA),
    });
    // A transformer only the other distributor lists.
    cispersl.extend(premises(201..=210, "ALHEIO", MUCAJAI));
    Fixture {
        name: "rule 3: placement by distinct (device, conjunto, municipio) of the distributor",
        agency_events: vec![
            event(1, "BORDA", 5),
            event(2, "RICO", 9),
            event(3, "ALHEIO", 13),
            // A device that feeds no premise (a feeder) cannot be placed.
            event(4, "ALIMENTADOR", 400),
        ],
        switch_plan_tasks: vec![],
        connectivity: vec![
            device("BORDA", 20),
            device("RICO", 30),
            device("ALIMENTADOR", 30),
            // The other distributor's view of our transformer, and its own transformer.
            ConnectivityRow {
                dev_name: "RICO",
                conj: 99,
                dist: "7019",
            },
            ConnectivityRow {
                dev_name: "ALHEIO",
                conj: 98,
                dist: "7019",
            },
        ],
        premises: cispersl,
        expected: vec![
            row(20, BOA_VISTA, 2, 0, 5),
            row(20, CANTA, 3, 0, 5),
            row(30, BOA_VISTA, 50, 0, 9),
        ],
    }
}

/// Rule 4. Two events on one transformer both add; a null NUM_CUST adds nothing.
fn rule_4_sums() -> Fixture {
    let mut cispersl = premises(1..=3, "T1", BOA_VISTA);
    cispersl.extend(premises(4..=5, "T2", BOA_VISTA));
    cispersl.extend(premises(6..=9, "T3", CANTA));
    Fixture {
        name: "rule 4: NUM_CUST summed per pair, planned and unplanned apart",
        agency_events: vec![
            event(1, "T1", 3),
            event(2, "T2", 2),
            event(3, "T1", 1),
            event(4, "T2", 20),
            event(5, "T1", 40),
            event(6, "T3", 7),
            AgencyEventRow {
                num_cust: None,
                ..event(7, "T1", 0)
            },
        ],
        switch_plan_tasks: vec![4, 5],
        connectivity: vec![device("T1", 10), device("T2", 10), device("T3", 10)],
        premises: cispersl,
        expected: vec![row(10, BOA_VISTA, 5, 60, 6), row(10, CANTA, 4, 0, 7)],
    }
}

/// Rule 5. Served UCs of the whole pair: distinct premises of every transformer of the
/// conjunto in the municipio, not only the affected one.
fn rule_5_served_ucs() -> Fixture {
    let mut cispersl = premises(1..=3, "T1", BOA_VISTA);
    // A duplicate row, and premise 3 also listed under T2: each counted once.
    cispersl.extend(premises(2..=2, "T1", BOA_VISTA));
    cispersl.extend(premises(3..=5, "T2", BOA_VISTA));
    // Not of the pair: null IBGE, another municipio, another conjunto, another distributor.
    cispersl.push(PremiseRow {
        premise: 6,
        xfmr: Some("T2"),
        ibge: None,
    });
    cispersl.extend(premises(7..=8, "T3", CANTA));
    cispersl.extend(premises(9..=11, "T4", BOA_VISTA));
    cispersl.extend(premises(12..=12, "T5", BOA_VISTA));
    Fixture {
        name: "rule 5: qtdUCsAtendidas counts distinct premises of the whole pair",
        agency_events: vec![event(1, "T1", 3)],
        switch_plan_tasks: vec![],
        connectivity: vec![
            device("T1", 10),
            device("T2", 10),
            device("T3", 10),
            device("T4", 11),
            ConnectivityRow {
                dev_name: "T5",
                conj: 10,
                dist: "7019",
            },
        ],
        premises: cispersl,
        expected: vec![row(10, BOA_VISTA, 5, 0, 3)],
    }
}

/// Rule 6. Conjuntos 9 and 10 sort numerically (text order would put 10 first).
fn rule_6_filter_and_order() -> Fixture {
    let mut cispersl = Vec::new();
    cispersl.extend(premises(1..=1, "T30", BOA_VISTA));
    cispersl.extend(premises(2..=3, "T10C", CANTA));
    cispersl.extend(premises(4..=6, "T10B", BOA_VISTA));
    cispersl.extend(premises(7..=7, "T9", BOA_VISTA));
    cispersl.extend(premises(8..=9, "T40", BOA_VISTA));
    cispersl.extend(premises(10..=10, "T50", BOA_VISTA));
    Fixture {
        name: "rule 6: pairs with zero sums left out, ordered by conjunto then municipio",
        agency_events: vec![
            event(1, "T30", 1),
            event(2, "T10C", 2),
            event(3, "T10B", 3),
            event(4, "T9", 1),
            // Active, placed, but NUM_CUST 0: the pair is left out.
            event(5, "T40", 0),
        ],
        switch_plan_tasks: vec![2],
        connectivity: vec![
            device("T30", 30),
            device("T10C", 10),
            device("T10B", 10),
            device("T9", 9),
            device("T40", 40),
            device("T50", 50),
        ],
        premises: cispersl,
        expected: vec![
            row(9, BOA_VISTA, 1, 0, 1),
            row(10, BOA_VISTA, 3, 0, 3),
            row(10, CANTA, 2, 2, 0),
            row(30, BOA_VISTA, 1, 0, 1),
        ],
    }
}
