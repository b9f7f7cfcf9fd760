import sys, time, torch, torch.nn.functional as F
sys.path.insert(0, __import__('os').path.join(__import__('os').path.dirname(__import__('os').path.abspath(__file__)), '..'))
from fer.model import SeedCNN
for bs in (64, 128):
  for bf16 in (False, True):
    for cl in (False, True):
        torch.manual_seed(0)
        m = SeedCNN()
        if cl: m = m.to(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(m.parameters(), 1e-3)
        x = torch.rand(bs,1,48,48); y = torch.randint(0,7,(bs,))
        if cl: x = x.contiguous(memory_format=torch.channels_last)
        for i in range(8):
            if i == 3: t = time.time()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                l = m(x)
            loss = F.cross_entropy(l.float(), y); opt.zero_grad(); loss.backward(); opt.step()
        dt = (time.time()-t)/5
        print(bs, 'bf16' if bf16 else 'fp32', 'CL' if cl else 'NCHW', f"{dt*1000:.0f} ms/batch -> {dt*28709/bs*0.9:.0f} s/epoch", flush=True)
