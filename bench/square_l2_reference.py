"""Success rates of the reference L2 Square Attack (torchattacks 3.5.1's
`Square(norm="L2")`, Andriushchenko et al.'s algorithm, 500 queries,
p-init 0.8, margin loss) on a linear 3-class model over 28x28 images, both
given by formulas, for `attack::square`'s test to compare its own with.

The reference draws its windows once per batch from torch's generator and
Temper per row from its own, so the searches cannot be replayed query by
query; over 60 rows their success rates must agree. Run with the venv of
bench/apgd_reference.sh: `APGD_VENV=... bench/apgd_reference.sh` is not
needed, only `<venv>/bin/python bench/square_l2_reference.py 3 4 5`.
"""
import math, sys, json, torch
from torch import nn
from torchattacks.attacks.square import Square
torch.set_num_threads(1)
H=W=28; K=3; N=60
r = torch.arange(H).view(H,1).float().expand(H,W)
c = torch.arange(W).view(1,W).float().expand(H,W)
wk = torch.stack([torch.sin((r+1)*(k+1)*0.11 + c*(k-1)*0.09) for k in range(K)]).view(K,-1)
j = torch.arange(H*W).float()
base = torch.stack([0.5 + 0.2*torch.sin(j*0.37*(i%7+1) + i) for i in range(N)])
# Each row leans toward class i % 3 by an amount that grows with i.
lean = torch.stack([(wk[i % K] - wk.mean(0)) * (0.002 * (i // K + 1)) for i in range(N)])
rows = (base + lean).clamp(0, 1).view(N,1,H,W)
class Lin(nn.Module):
    def forward(self, x): return x.view(x.shape[0],-1) @ wk.t()
net = Lin()
y = net(rows).argmax(1)
z = net(rows)
d = [min(((z[i,y[i]] - z[i,k]) / (wk[y[i]]-wk[k]).norm()).item() for k in range(K) if k != y[i]) for i in range(N)]
print("labels", y.tolist()[:12], "distances", [round(x,2) for x in sorted(d)[::5]])
for eps in [float(a) for a in sys.argv[1:]]:
    atk = Square(net, norm='L2', eps=eps, n_queries=500, n_restarts=1, p_init=0.8, loss='margin', resc_schedule=True, seed=0)
    atk.device = torch.device('cpu')
    adv = atk(rows, y)
    fooled = (net(adv).argmax(1) != y)
    print(eps, fooled.float().mean().item(), sum(1 for x in d if x < eps)/N)
