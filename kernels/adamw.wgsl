// AdamW update of one or more parameter tensors in one dispatch, torch.optim.AdamW semantics (decoupled
// weight decay, bias correction), in torch's single-tensor operation order, per element:
//   g ← g·clip;  θ ← θ·(1 − lr·wd);  m ← lerp(m, g, 1 − β1);  v ← v·β2 + (1 − β2)·g²;
//   θ ← θ − (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps),  bc1 = 1 − β1ᵗ, bc2 = 1 − β2ᵗ.
// This file is a template (lib/gpu/template.ts): lib/ops/adamw.ts fills {{COUNT}} (tensors in the
// dispatch), {{VALUES}} (f32, or vec4f when every tensor's size and moment offset are multiples of 4),
// {{BINDINGS}} (the tensors' param/grad bindings), {{LOADS}} and {{STORES}} (one switch case per tensor),
// since WGSL cannot index a binding by a runtime number. The per-element operations are those of a
// single-tensor update, so neither the grouping nor vec4 changes any bit.
//
// Tensor k: param_k (n_k values) is updated in place, grad_k (n_k) is read only; its moments are
// m[momentOffset_k + i] and v[momentOffset_k + i], i < n_k, of the moment arenas m and v (updated in
// place). Sizes and offsets are in Values (4 floats each for vec4f).
// hyper is (groups·7) f32: [lr, beta1, beta2, eps, weight_decay, bc1, bc2] of each group, rewritten by
// the trainer each step; tensor k reads the group at hyperOffset_k.
// clip is (2): [‖g‖₂, clip coefficient] from grad_norm_final.wgsl (or [0, 1] for no clipping).
// Bindings: 0 params {tensors[k] = (n, firstWorkgroup, momentOffset, hyperOffset)}, 1 m, 2 v, 3 hyper,
// 4 clip, then param_k at 5 + 2k and grad_k at 6 + 2k.
// Grid: workgroups firstWorkgroup_k .. firstWorkgroup_{k+1} − 1 update tensor k, one thread per Values
// (firstWorkgroup_0 = 0); a 2-D grid beyond the per-dimension workgroup limit.

struct Params {
  tensors: array<vec4u, {{COUNT}}>,
}

// Values of one thread: f32, or vec4f when every tensor's size (and moment offset) is a multiple of 4.
alias Values = {{VALUES}};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> m: array<Values>;
@group(0) @binding(2) var<storage, read_write> v: array<Values>;
@group(0) @binding(3) var<storage, read> hyper: array<f32>;
@group(0) @binding(4) var<storage, read> clip: array<f32, 2>;
{{BINDINGS}}

// torch's lerp (ATen Lerp.h): self + w·(end − self) for |w| < 0.5, else end − (end − self)·(1 − w).
fn torch_lerp(start: Values, end: Values, w: f32) -> Values {
  if (abs(w) < 0.5) { return start + w * (end - start); }
  return end - (end - start) * (1.0 - w);
}

// The values of one thread: updates their moments m[s], v[s] with the group at hyper[h] and returns the
// new parameters.
fn adamw_values(param: Values, grad: Values, s: u32, h: u32) -> Values {
  let lr = hyper[h];
  let beta1 = hyper[h + 1u];
  let beta2 = hyper[h + 2u];
  let eps = hyper[h + 3u];
  let weight_decay = hyper[h + 4u];
  let bc1 = hyper[h + 5u];
  let bc2 = hyper[h + 6u];

  // clip_grad_norm_ scales the gradient in place before the optimizer reads it.
  let g = grad * clip[1];
  // Decoupled weight decay first, on the old parameter.
  var theta = param * (1.0 - lr * weight_decay);
  // exp_avg.lerp_(grad, 1 − β1); exp_avg_sq.mul_(β2).addcmul_(grad, grad, value = 1 − β2).
  let m_new = torch_lerp(m[s], g, 1.0 - beta1);
  let v_new = v[s] * beta2 + (1.0 - beta2) * g * g;
  m[s] = m_new;
  v[s] = v_new;
  // denom = sqrt(v) / sqrt(bc2) + eps; param.addcdiv_(m, denom, value = −lr / bc1).
  let denom = sqrt(v_new) / sqrt(bc2) + eps;
  theta -= (lr / bc1) * (m_new / denom);
  return theta;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let w = wid.x + wid.y * nwg.x;
  // The tensor of workgroup w: the last one whose first workgroup is at or before w.
  var k = 0u;
  for (var j = 1u; j < {{COUNT}}u; j++) {
    if (w >= params.tensors[j].y) { k = j; }
  }
  let t = params.tensors[k];
  let i = (w - t.y) * 256u + lid;
  // llvmpipe runs every case of a switch, masked, so the cases only load and store: the update itself
  // is written once.
  var param = Values();
  var grad = Values();
  switch k {
    {{LOADS}}
    default: {}
  }
  if (i >= t.x) { return; }
  let theta = adamw_values(param, grad, t.z + i, t.w);
  switch k {
    {{STORES}}
    default: {}
  }
}
