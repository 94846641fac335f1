"""Reference epsilons for Temper's DP-SGD accountant tests
(pipeline/src/train/dp/accountant.rs), from Opacus and Google's dp-accounting.

    python -m venv v && v/bin/pip install opacus==1.6.0 dp-accounting==0.6.0
    v/bin/python bench/dp_accountant_reference.py
"""
import warnings; warnings.filterwarnings("ignore")
from opacus.accountants.analysis import rdp as ordp
from opacus.accountants.utils import get_noise_multiplier
from opacus.accountants import RDPAccountant
import dp_accounting as dpa
import numpy as np
orders = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
cases = [
 # q, sigma, steps, delta
 (256/60000, 1.1, 60*60000//256, 1e-5),  # TF Privacy tutorial
 (600/60000, 4.0, 100*100, 1e-5),          # Abadi large noise setting?
 (600/60000, 2.0, 100*100, 1e-5),
 (600/60000, 8.0, 100*100, 1e-5),
 (240/60000, 1.0, 10*250, 1e-5),          # opacus mnist example
 (64/480, 1.0, 10*8, 1e-3),
 (0.01, 0.7, 1000, 1e-5),
 (1.0, 5.0, 10, 1e-5),
]
for q, s, T, d in cases:
    rdp = ordp.compute_rdp(q=q, noise_multiplier=s, steps=T, orders=orders)
    eps, a = ordp.get_privacy_spent(orders=orders, rdp=rdp, delta=d)
    acc = dpa.rdp.RdpAccountant(orders)
    acc.compose(dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(q, dpa.GaussianDpEvent(s)), T))
    e2 = acc.get_epsilon(d)
    print(f"q={q!r} sigma={s} steps={T} delta={d} opacus={eps!r} order={a} dp_accounting={e2!r}")
# per-order rdp values for checking
for a in [1.5, 2, 2.5, 8, 32.0, 63]:
    print("rdp", a, ordp._compute_rdp(0.01, 1.1, a))
for tgt in [1.0, 2.0, 8.0]:
    print("noise for eps", tgt, get_noise_multiplier(target_epsilon=tgt, target_delta=1e-5, sample_rate=256/60000, epochs=60, accountant="rdp", epsilon_tolerance=0.001))
