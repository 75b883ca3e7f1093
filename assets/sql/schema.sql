-- The restricted warehouse. Raw case references never arrive here: cases carry case_key only.
CREATE TABLE IF NOT EXISTS submissions (
    la_code VARCHAR,
    period VARCHAR,
    source VARCHAR NOT NULL,
    content_sha256 VARCHAR NOT NULL,
    received_at TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL,          -- loaded | rejected
    cases_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    message VARCHAR,
    rule VARCHAR,                     -- for a rejected pack: the pack rule it broke
    rows_received BIGINT              -- data rows over the tables sent (loaded pack only)
);

CREATE TABLE IF NOT EXISTS cases (
    la_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    case_key VARCHAR NOT NULL,
    age BIGINT,
    sex VARCHAR,
    ethnicity_group VARCHAR,
    harm_types VARCHAR[],
    intrafamilial_harm BOOLEAN,
    referral_date DATE,
    case_end_date DATE,
    plan_type VARCHAR,
    lives_with_parent BOOLEAN,
    parent_partnership_exception VARCHAR,
    risk_level_start VARCHAR,
    risk_level_end VARCHAR,
    missing_episodes BIGINT,
    return_interviews_72h BIGINT
);

CREATE TABLE IF NOT EXISTS meetings (
    la_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    case_key VARCHAR NOT NULL,
    source_row BIGINT NOT NULL,       -- the row of the LA's meetings table, for tracing back
    meeting_date DATE,
    meeting_type VARCHAR,
    parent_invited BOOLEAN,
    parent_attended BOOLEAN,
    parent_views_recorded BOOLEAN,
    parent_informed_of_outcome BOOLEAN
);

CREATE TABLE IF NOT EXISTS actions (
    la_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    case_key VARCHAR NOT NULL,
    source_row BIGINT NOT NULL,
    action_date DATE,
    action_type VARCHAR,
    target VARCHAR,
    lead_agency VARCHAR,
    status VARCHAR,
    info_source VARCHAR
);

-- Contract v1.1 (docs/contexts.md): the contexts a pack's cases are linked to. Raw context
-- references never arrive here either: a context carries context_key only.
CREATE TABLE IF NOT EXISTS contexts (
    la_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    context_key VARCHAR NOT NULL,
    context_type VARCHAR,
    identified_date DATE,
    risk_level_start VARCHAR,
    risk_level_end VARCHAR,
    closed_date DATE
);

CREATE TABLE IF NOT EXISTS case_contexts (
    la_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    case_key VARCHAR NOT NULL,
    context_key VARCHAR NOT NULL,
    link_type VARCHAR
);

-- v1.1 added context_key to meetings and actions, and has_contexts to submissions: a warehouse
-- made before gains the columns (NULL: no context, or a v1 pack).
ALTER TABLE meetings ADD COLUMN IF NOT EXISTS context_key VARCHAR;
ALTER TABLE actions ADD COLUMN IF NOT EXISTS context_key VARCHAR;
ALTER TABLE submissions ADD COLUMN IF NOT EXISTS has_contexts BOOLEAN;  -- the pack sent contexts (1 or more loaded)

CREATE TABLE IF NOT EXISTS quarantine (
    la_code VARCHAR,
    period VARCHAR,
    source_file VARCHAR,
    table_name VARCHAR,
    row_number BIGINT,
    column_name VARCHAR,
    rule VARCHAR,
    message VARCHAR
);

CREATE TABLE IF NOT EXISTS case_indicators (
    la_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    case_key VARCHAR NOT NULL,
    indicator_id VARCHAR NOT NULL,
    applicable BOOLEAN NOT NULL,
    met BOOLEAN,
    value DOUBLE
);

CREATE TABLE IF NOT EXISTS indicator_rates (
    la_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    indicator_id VARCHAR NOT NULL,
    numerator BIGINT NOT NULL,
    denominator BIGINT NOT NULL,
    rate DOUBLE,
    ci_low DOUBLE,
    ci_high DOUBLE
);

-- One row per context and context indicator (unit: the context), as case_indicators is per case.
CREATE TABLE IF NOT EXISTS context_indicators (
    la_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    context_key VARCHAR NOT NULL,
    indicator_id VARCHAR NOT NULL,
    applicable BOOLEAN NOT NULL,
    met BOOLEAN,
    value DOUBLE
);

-- The context domain score per context: the mean of the scored context indicators that apply.
CREATE TABLE IF NOT EXISTS context_domain_scores (
    la_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    context_key VARCHAR NOT NULL,
    domain VARCHAR NOT NULL,
    score DOUBLE,
    indicators_applicable BIGINT NOT NULL
);

-- Shared contexts and networks per pack (connected components of the case-context graph).
-- Counts only, restricted until published under disclosure control.
CREATE TABLE IF NOT EXISTS context_networks (
    la_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    contexts BIGINT NOT NULL,               -- contexts in the pack
    shared_contexts BIGINT NOT NULL,        -- contexts linked to 2 or more cases
    cases_linked BIGINT NOT NULL,           -- cases linked to 1 or more contexts
    cases_sharing BIGINT NOT NULL,          -- cases linked through a shared context
    networks BIGINT NOT NULL,               -- connected components with 2 or more cases
    networks_2 BIGINT NOT NULL,             -- ... of 2 cases
    networks_3_5 BIGINT NOT NULL,
    networks_6_10 BIGINT NOT NULL,
    networks_11_plus BIGINT NOT NULL,
    cases_in_networks BIGINT NOT NULL,
    cases_in_assessed_networks BIGINT NOT NULL  -- ... whose shared contexts all met CX1
);

-- Views the framework's units are scored over (config/indicators.yaml `units`).
-- The case as the case unit scores it: its row of `cases`, and whether its pack carried a contexts
-- table (v1.1), for the case indicators that apply only where contexts are recorded.
CREATE OR REPLACE VIEW scored_cases AS
SELECT c.*, coalesce(s.has_contexts, false) AS pack_has_contexts
FROM cases c LEFT JOIN (SELECT la_code, period, bool_or(has_contexts) AS has_contexts FROM submissions
                        WHERE status = 'loaded' GROUP BY ALL) s USING (la_code, period);

-- Each link of a case to a context, with that context's indicator results: for the case indicators
-- that ask what was done about the case's contexts (scored after the context unit).
CREATE OR REPLACE VIEW case_context_results AS
SELECT cc.la_code, cc.period, cc.case_key, cc.context_key, cc.link_type, ci.indicator_id, ci.applicable, ci.met,
       ci.value
FROM case_contexts cc JOIN context_indicators ci USING (la_code, period, context_key);

-- Every unit's indicator results, for rates pooled over any of them (assets/scoring.py pooled_rates).
CREATE OR REPLACE VIEW unit_indicators AS
SELECT la_code, period, indicator_id, applicable, met, value FROM case_indicators
UNION ALL
SELECT la_code, period, indicator_id, applicable, met, value FROM context_indicators;

CREATE TABLE IF NOT EXISTS case_domain_scores (
    la_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    case_key VARCHAR NOT NULL,
    domain VARCHAR NOT NULL,
    score DOUBLE,                     -- NULL where no indicator of the domain applies
    indicators_applicable BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS pack_scores (
    la_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    domain VARCHAR NOT NULL,          -- PI, OF, CI, PF, PRACTICE for the practice score, CX the pack context score
    score DOUBLE,
    cases_scored BIGINT NOT NULL
);

-- Which content of each pack was scored, under which framework: scoring is incremental.
CREATE TABLE IF NOT EXISTS scored_packs (
    la_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    content_sha256 VARCHAR NOT NULL,
    framework_sha256 VARCHAR NOT NULL
);

-- Statutory returns (CIN census, SSDA903 missing episodes), degraded and pseudonymised on the way
-- in. `period` is the collection year, ending 31 March of that year ('2024').
CREATE TABLE IF NOT EXISTS statutory_submissions (
    kind VARCHAR NOT NULL,            -- cin_census | ssda903
    la_code VARCHAR,
    period VARCHAR,
    source VARCHAR NOT NULL,
    content_sha256 VARCHAR NOT NULL,
    received_at TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL,          -- loaded | rejected
    rows_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    message VARCHAR,
    rule VARCHAR
);

CREATE TABLE IF NOT EXISTS cin_children (
    la_code VARCHAR NOT NULL, period VARCHAR NOT NULL, child_key VARCHAR NOT NULL,
    age BIGINT, sex VARCHAR, ethnicity VARCHAR, disabled BOOLEAN, source_row BIGINT
);

CREATE TABLE IF NOT EXISTS cin_episodes (
    la_code VARCHAR NOT NULL, period VARCHAR NOT NULL, child_key VARCHAR NOT NULL, episode BIGINT,
    referral_date DATE, referral_source VARCHAR, primary_need VARCHAR, closure_date DATE,
    reason_for_closure VARCHAR, referral_nfa BOOLEAN,
    days_since_previous_referral BIGINT  -- to the child's previous referral in the same return
);

CREATE TABLE IF NOT EXISTS cin_assessments (
    la_code VARCHAR NOT NULL, period VARCHAR NOT NULL, child_key VARCHAR NOT NULL, episode BIGINT,
    start_date DATE, authorisation_date DATE, factors VARCHAR[]
);

CREATE TABLE IF NOT EXISTS cin_section47 (
    la_code VARCHAR NOT NULL, period VARCHAR NOT NULL, child_key VARCHAR NOT NULL, episode BIGINT,
    start_date DATE,                  -- S47ActualStartDate
    icpc_target_date DATE,            -- InitialCPCtarget
    icpc_date DATE,                   -- DateOfInitialCPC of this enquiry's conference
    icpc_not_required BOOLEAN         -- ICPCnotRequired
);

CREATE TABLE IF NOT EXISTS cin_cp_plans (
    la_code VARCHAR NOT NULL, period VARCHAR NOT NULL, child_key VARCHAR NOT NULL, episode BIGINT,
    start_date DATE, end_date DATE, initial_category VARCHAR, latest_category VARCHAR
);

CREATE TABLE IF NOT EXISTS ssda903_missing (
    la_code VARCHAR NOT NULL, period VARCHAR NOT NULL, child_key VARCHAR NOT NULL, source_row BIGINT,
    kind VARCHAR, start_date DATE, end_date DATE, duration_days BIGINT, age_at_start BIGINT
);

CREATE TABLE IF NOT EXISTS ssda903_children (
    la_code VARCHAR NOT NULL, period VARCHAR NOT NULL, child_key VARCHAR NOT NULL,
    sex VARCHAR, age_at_year_end BIGINT
);

CREATE TABLE IF NOT EXISTS statutory_quarantine (
    la_code VARCHAR, period VARCHAR, source_file VARCHAR, table_name VARCHAR, row_number BIGINT,
    column_name VARCHAR, rule VARCHAR, message VARCHAR
);

CREATE TABLE IF NOT EXISTS statutory_child_indicators (
    la_code VARCHAR NOT NULL, period VARCHAR NOT NULL, child_key VARCHAR NOT NULL,
    indicator_id VARCHAR NOT NULL, applicable BOOLEAN NOT NULL, met BOOLEAN, value DOUBLE
);

CREATE TABLE IF NOT EXISTS statutory_rates (
    la_code VARCHAR NOT NULL, period VARCHAR NOT NULL, indicator_id VARCHAR NOT NULL,
    numerator BIGINT NOT NULL, denominator BIGINT NOT NULL, rate DOUBLE, ci_low DOUBLE, ci_high DOUBLE,
    mean_value DOUBLE                 -- mean of `value` over applicable children (e.g. episodes per child)
);

-- DfE "Characteristics of children in need" table C3, tidy: one row per year, area and factor.
-- `value` is NULL where DfE published a marker instead (c, x, z, u, k), kept in `marker`.
CREATE TABLE IF NOT EXISTS dfe_c3 (
    time_period VARCHAR, geographic_level VARCHAR, region_code VARCHAR, region_name VARCHAR,
    la_code VARCHAR, la_name VARCHAR, factor VARCHAR, value BIGINT, marker VARCHAR
);
-- The codes and country the benchmark exports repeat; old_la_code (3-digit) links the neighbour model.
ALTER TABLE dfe_c3 ADD COLUMN IF NOT EXISTS old_la_code VARCHAR;
ALTER TABLE dfe_c3 ADD COLUMN IF NOT EXISTS country_code VARCHAR;
ALTER TABLE dfe_c3 ADD COLUMN IF NOT EXISTS country_name VARCHAR;

-- DfE tables D3 and D5, tidy: child protection plans started, second or subsequent plans, and plans
-- at 31 March, one row per year, area and measure; markers as in dfe_c3.
CREATE TABLE IF NOT EXISTS dfe_cp_plans (
    time_period VARCHAR, geographic_level VARCHAR, country_code VARCHAR, country_name VARCHAR,
    region_code VARCHAR, region_name VARCHAR, old_la_code VARCHAR, la_code VARCHAR, la_name VARCHAR,
    measure VARCHAR, value BIGINT, marker VARCHAR
);

-- ONS mid-year estimates of children aged 0 to 17 (DfE's tidy table), by mid-year, for England, its
-- regions and LAs: the denominators of rates per 10,000 children. `population` NULL where `marker`.
CREATE TABLE IF NOT EXISTS dfe_population (
    time_period VARCHAR, geographic_level VARCHAR, country_code VARCHAR, country_name VARCHAR,
    region_code VARCHAR, region_name VARCHAR, old_la_code VARCHAR, la_code VARCHAR, la_name VARCHAR,
    population BIGINT, marker VARCHAR
);

-- DfE's statistical neighbour model (2025): each LA's ten neighbours by 3-digit old code, rank 1 the
-- nearest, with the model's closeness band.
CREATE TABLE IF NOT EXISTS dfe_neighbours (
    old_la_code VARCHAR, la_name VARCHAR, rank INTEGER, neighbour_old_la_code VARCHAR, closeness VARCHAR
);

-- Multi-agency case audits (docs/audits.md). Restricted: case_keys and auditors' comments stay here
-- and in the restricted edition, never in the public site or exports.
CREATE TABLE IF NOT EXISTS audits (
    audit_id VARCHAR NOT NULL, la_code VARCHAR NOT NULL, period VARCHAR NOT NULL, theme VARCHAR,
    focus VARCHAR, size BIGINT NOT NULL, seed BIGINT NOT NULL, created_at TIMESTAMP NOT NULL,
    tool_version VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_samples (
    audit_id VARCHAR NOT NULL, case_key VARCHAR NOT NULL, stratum VARCHAR NOT NULL, reason VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_answers (
    audit_id VARCHAR NOT NULL, agency VARCHAR NOT NULL, case_key VARCHAR NOT NULL, question_id VARCHAR NOT NULL,
    answer VARCHAR NOT NULL, value DOUBLE    -- NULL for not_applicable and not_known
);

-- One row per audit return received (file and content): loaded, or rejected with its rule.
CREATE TABLE IF NOT EXISTS audit_returns (
    audit_id VARCHAR NOT NULL, agency VARCHAR, source_file VARCHAR NOT NULL, content_sha256 VARCHAR NOT NULL,
    received_at TIMESTAMP NOT NULL, status VARCHAR NOT NULL, rows_received BIGINT, rows_loaded BIGINT,
    rows_quarantined BIGINT, rule VARCHAR, message VARCHAR
);

-- Answers of a loaded return that broke a rule; the message names file, row, column and rule, never a value.
CREATE TABLE IF NOT EXISTS audit_quarantine (
    audit_id VARCHAR NOT NULL, agency VARCHAR NOT NULL, source_file VARCHAR NOT NULL, row_number BIGINT NOT NULL,
    column_name VARCHAR NOT NULL, rule VARCHAR NOT NULL, message VARCHAR NOT NULL
);

-- Auditors' comments on loaded answers, after the identifier scan. Restricted: never published.
CREATE TABLE IF NOT EXISTS audit_comments (
    audit_id VARCHAR NOT NULL, agency VARCHAR NOT NULL, case_key VARCHAR NOT NULL, question_id VARCHAR NOT NULL,
    comment VARCHAR NOT NULL
);

-- What an audit found (assets/audit_findings.py): agreement among the agencies per question, and the
-- moderated judgement against the case's data per framework domain.
CREATE TABLE IF NOT EXISTS audit_agreement (
    audit_id VARCHAR NOT NULL, question_id VARCHAR NOT NULL, raters BIGINT NOT NULL, cases BIGINT NOT NULL,
    krippendorff_alpha_ordinal DOUBLE
);

CREATE TABLE IF NOT EXISTS audit_judgement_vs_data (
    audit_id VARCHAR NOT NULL, domain VARCHAR NOT NULL, cases BIGINT NOT NULL, spearman_rho DOUBLE,
    concordant_share DOUBLE
);

-- The action tracker the partnership keeps for each audit (restricted: recommendations are free text).
CREATE TABLE IF NOT EXISTS audit_actions (
    audit_id VARCHAR NOT NULL, action_id VARCHAR NOT NULL, recommendation VARCHAR NOT NULL,
    owner_agency VARCHAR, due_date DATE, status VARCHAR NOT NULL, updated_at DATE
);
