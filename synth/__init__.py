"""Synthetic export packs and statutory returns: seeded, realistic test data in every shape the
contract accepts, so the ingest pipeline, the indicator engine and the dashboards can be developed,
tested and benchmarked without real case data.

What it produces:

* One pack per LA x quarter (``packs.write_packs``). Case volumes follow each LA's latest published
  DfE table C3 counts of exploitation-related assessment factors, scaled to about 25,000 open cases
  a quarter nationally, unless a fixed ``cases_per_la`` is given (``population``).
* Practice quality (parent inclusion, offender focus, context work) differs by LA and drifts from
  quarter to quarter, so the dashboards have something to show (``cases``, ``activity``).
* Contexts (contract v1.1): the places, peer groups, schools and online spaces that cases share,
  each only a reference, linked to cases in networks of realistic sizes and named by the meetings
  and actions about them (``contexts``). Some LAs do not record them yet, or start part-way, so
  v1 packs of three tables come too; ``contexts="all"`` or ``"none"`` makes every pack one kind.
* With ``formats="mixed"`` the packs use every encoding the contract accepts (CSV with or without
  BOM, Windows-1252 with semicolons, Parquet, Excel workbooks with date cells or text dates, Y/N and
  code spelling variants) while carrying exactly the same logical data as ``formats="csv"``
  (``writers``).
* With ``faults=True`` it also plants bad rows and bad packs and describes each one in
  ``faults_manifest.json``, so the validation and quarantine logic can be checked end to end
  (``faults``).
* A CIN census XML file and an SSDA903 folder per LA for the statutory pages (``statutory``).

Everything is driven by ``random.Random`` instances seeded from strings, so the same arguments give
byte-identical files on every run and machine (Python seeds string seeds through SHA-512, which is
independent of hash randomisation).

The package reads configuration through ``assets.config`` and imports nothing from ``pipelines``,
``checks`` or ``dashboards``; the command line (``pipelines.cli``) is its only entry point.
"""
