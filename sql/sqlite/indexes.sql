-- Indexes used by sql/interrupcoes_ativas.sql (run after schema.sql, and after a bulk load).

-- Rule 1: the open events of one agency.
CREATE INDEX IX_AGENCY_EVENT_ATIVO ON AGENCY_EVENT (AG_ID, IS_OPEN);

-- Rule 2: does this event have a switching-plan task (EXISTS probe).
CREATE INDEX IX_SWITCH_PLAN_TASKS_OUTAGE ON SWITCH_PLAN_TASKS (OUTAGE_NUM);

-- Rule 3: a device by name (placement of an event); covering.
CREATE INDEX IX_OMS_CONNECTIVITY_DEV ON OMS_CONNECTIVITY (DEV_NAME, DIST, CONJ);

-- Rule 5: every device of one conjunto (served UCs of a pair); covering.
CREATE INDEX IX_OMS_CONNECTIVITY_CONJ ON OMS_CONNECTIVITY (CONJ, DIST, DEV_NAME);

-- Rules 3 and 5: the premises of one transformer in one municipio; covering.
CREATE INDEX IX_CISPERSL_XFMR ON CISPERSL (XFMR, HXGN_COD_MUNICIPIO_IBGE, PREMISE);
