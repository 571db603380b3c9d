// AdamW update of one parameter tensor, torch.optim.AdamW semantics (decoupled weight decay, bias
// correction), in torch's single-tensor operation order:
//   g ← g·clip;  θ ← θ·(1 − lr·wd);  m ← lerp(m, g, 1 − β1);  v ← v·β2 + (1 − β2)·g²;
//   θ ← θ − (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps),  bc1 = 1 − β1ᵗ, bc2 = 1 − β2ᵗ.
// param, m, v are (n) f32, updated in place; grad is (n) f32, read only;
// hyper is (7): [lr, beta1, beta2, eps, weight_decay, bc1, bc2], rewritten by the trainer each step;
// clip is (2): [‖g‖₂, clip coefficient] from grad_norm_final.wgsl (or [0, 1] for no clipping).
// Bindings: 0 params {n}, 1 param, 2 m, 3 v, 4 grad, 5 hyper, 6 clip. One thread per element,
// 2-D grid beyond the per-dimension workgroup limit.

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> grad: array<f32>;
@group(0) @binding(5) var<storage, read> hyper: array<f32, 7>;
@group(0) @binding(6) var<storage, read> clip: array<f32, 2>;

// torch's lerp (ATen Lerp.h): self + w·(end − self) for |w| < 0.5, else end − (end − self)·(1 − w).
fn torch_lerp(start: f32, end: f32, w: f32) -> f32 {
  if (abs(w) < 0.5) { return start + w * (end - start); }
  return end - (end - start) * (1.0 - w);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= params.n) { return; }
  let lr = hyper[0];
  let beta1 = hyper[1];
  let beta2 = hyper[2];
  let eps = hyper[3];
  let weight_decay = hyper[4];
  let bc1 = hyper[5];
  let bc2 = hyper[6];

  // clip_grad_norm_ scales the gradient in place before the optimizer reads it.
  let g = grad[i] * clip[1];
  // Decoupled weight decay first, on the old parameter.
  var theta = param[i] * (1.0 - lr * weight_decay);
  // exp_avg.lerp_(grad, 1 − β1); exp_avg_sq.mul_(β2).addcmul_(grad, grad, value = 1 − β2).
  let m_new = torch_lerp(m[i], g, 1.0 - beta1);
  let v_new = v[i] * beta2 + (1.0 - beta2) * g * g;
  m[i] = m_new;
  v[i] = v_new;
  // denom = sqrt(v) / sqrt(bc2) + eps; param.addcdiv_(m, denom, value = −lr / bc1).
  let denom = sqrt(v_new) / sqrt(bc2) + eps;
  theta -= (lr / bc1) * (m_new / denom);
  param[i] = theta;
}
