"""A digits space whose objective sleeps on one trial (for kill/interrupt tests of the runner).

``SLOW_TRIAL`` (trial number) and ``SLOW_SECONDS``, or ``INTERRUPT_TRIAL`` (raise
KeyboardInterrupt there, as Ctrl-C would), come from the environment, so the
space's options, which a resumed study checks, stay the same across runs. The
sleep comes before the trial's parameters are suggested; ``SLOW_TRAINING_TRIAL``
sleeps after them instead, as a long training would (a retry then has the
parameters to copy). ``WAIT_FOR_TRIALS`` = N holds every trial until the study has
N trials (at most two minutes), so that several processes on one study all start one.
"""

import os
import time

from search_spaces.digits import DigitsSpace


class SlowDigits(DigitsSpace):
    def objective(self, trial, report=True):
        if trial.number == int(os.environ.get("INTERRUPT_TRIAL", "-1")):
            raise KeyboardInterrupt  # what Ctrl-C does to the running trial
        deadline = time.monotonic() + 120
        while (len(trial.study.get_trials(deepcopy=False)) < int(os.environ.get("WAIT_FOR_TRIALS", "0"))
               and time.monotonic() < deadline):  # fmt: skip
            time.sleep(0.1)
        if trial.number == int(os.environ.get("SLOW_TRIAL", "-1")):
            time.sleep(float(os.environ.get("SLOW_SECONDS", "0")))
        return super().objective(trial, report)

    def suggest(self, trial):
        config = super().suggest(trial)
        if trial.number == int(os.environ.get("SLOW_TRAINING_TRIAL", "-1")):
            time.sleep(float(os.environ.get("SLOW_SECONDS", "0")))
        return config
