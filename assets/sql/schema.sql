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
    rows_received BIGINT              -- data rows over the three tables (loaded pack only)
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
    domain VARCHAR NOT NULL,          -- PI, OF, CI, PF, or PRACTICE for the practice score
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
