import sys

import torch

from dynamiccity.runs.loading import load_vae

vae = load_vae(sys.argv[1], "last").model if sys.argv[1] != "shipped" else load_vae("synthtown").model
head = vae.voxel_decoder.head
W = head.out.weight.reshape(12, -1).detach(); b = head.out.bias.detach()
print('W', W.shape, 'bias bike', b[11].item(), 'bias max', b.max().item())
torch.manual_seed(0)
a = torch.randn(256, W.shape[1], requires_grad=True)
opt = torch.optim.Adam([a], lr=0.05)
for i in range(500):
    h = torch.nn.functional.leaky_relu(a, 0.1)
    lg = h @ W.T + b
    margin = lg[:, 11] - lg[:, :11].max(1).values
    loss = -margin.mean() + 1e-3 * (a**2).sum(1).mean()
    opt.zero_grad(); loss.backward(); opt.step()
print('best margin in hidden space', margin.max().item(), 'at |a|', a.norm(dim=1)[margin.argmax()].item())
