// Shared piece of the three attention kernels (attention_forward.wgsl, attention_backward_dq.wgsl,
// attention_backward_dkdv.wgsl): their templates list it as a piece (lib/gpu/template.ts), so it is
// put before each and filled for the same headDim. Each kernel declares its own Params (binding 0)
// and its other bindings.

alias V = {{V}};
// Vectors of type V in one head row (headDim / 4 or headDim).
const NV = {{NV}}u;
// Rows per thread: query rows (forward, dq) or key rows (dkdv).
const R = {{R}}u;
override WG: u32 = 64;

@group(0) @binding(1) var<storage, read> q: array<V>;
@group(0) @binding(2) var<storage, read> k: array<V>;
@group(0) @binding(3) var<storage, read> v: array<V>;

// Dot product of two head-row pieces (vec4 dot, or a product of scalars).
fn dotv(a: V, b: V) -> f32 {
  return {{DOT}};
}
