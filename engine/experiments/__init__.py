"""Runs, seeds and sweeps: what actlab does with the training core's event stream.

The layer between the core (`actlab.engine`: config, data, model, the training loop) and the
user interface (`actlab.tui`): run directories written, read and replayed (`results`,
`store`), the tables in every format (`report`, `report_sweeps`), sweeps planned, trained as
jobs and summed up (`sweep_plan`, `sweep_jobs`, `sweep_dir`, `sweep_results`), one run's
plumbing (`plumbing`), where jobs run (`backends`, `workers`, `jobs`), runs side by side
(`compare`), Markdown reports (`run_report`), what a saved directory holds (`opened`) and
what --open shows of it (`saved`), batch mode without its terminal (`batch`) and the app's
engine process, the child's side (`engine_child`, `engine_messages`).

Nothing here imports textual, rich or click, nor PyTorch when imported: the code that
trains loads it inside the functions that train. The core never imports this package.
"""
