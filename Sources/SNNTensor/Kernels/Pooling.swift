/// 2-D pooling kernels over `[batch, C, H, W]` maps with a square window `k` and stride `s`
/// (no padding). Average pooling divides by `k*k`; max pooling records the winning index for the
/// backward pass (the first maximum in row-major window order).
public enum Pool2D {
    /// Output extent for one spatial dimension.
    @inlinable public static func outExtent(_ n: Int, kernel k: Int, stride s: Int) -> Int { (n - k) / s + 1 }

    /// Calls `body(cell)` for every pooled cell whose window holds element `source` (flat index of a
    /// `[C, height, width]` map; cells are flat indices of the `[C, pooledHeight, pooledWidth]` map), in
    /// ascending cell order: how event-driven code routes one element through a pooling layer.
    @inlinable @inline(__always)
    public static func forEachCell(containing source: Int, height h: Int, width w: Int, kernel k: Int, stride s: Int,
                                   pooledHeight ph: Int, pooledWidth pw: Int, _ body: (Int) -> Void) {
        let c = source / (h * w), y = (source % (h * w)) / w, x = source % w
        // Cells py with py * s <= y < py * s + k (likewise px).
        let pyMin = y >= k ? (y - k) / s + 1 : 0, pyMax = min(ph - 1, y / s)
        let pxMin = x >= k ? (x - k) / s + 1 : 0, pxMax = min(pw - 1, x / s)
        if pyMin > pyMax || pxMin > pxMax { return }
        for py in pyMin...pyMax {
            for px in pxMin...pxMax { body((c * ph + py) * pw + px) }
        }
    }

    /// Average pooling forward.
    public static func averageForward(_ x: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                                      kernel k: Int, stride s: Int, output y: UnsafeMutablePointer<Float>) {
        let ho = outExtent(height, kernel: k, stride: s), wo = outExtent(width, kernel: k, stride: s)
        let scale = 1 / Float(k * k)
        parallelFor(batch * channels, minimumChunk: 4) { planes in
            for pl in planes {
                let xp = x + pl * height * width, yp = y + pl * ho * wo
                if k == 2 && s == 2 {
                    // The common 2x2 window, same sum order as the general loop (ky, then kx).
                    for oy in 0..<ho {
                        let r0 = xp + 2 * oy * width, r1 = r0 + width, yr = yp + oy * wo
                        for ox in 0..<wo {
                            var acc: Float = 0
                            acc += r0[2 * ox]; acc += r0[2 * ox + 1]; acc += r1[2 * ox]; acc += r1[2 * ox + 1]
                            yr[ox] = acc * scale
                        }
                    }
                    continue
                }
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var acc: Float = 0
                        for ky in 0..<k { for kx in 0..<k { acc += xp[(oy * s + ky) * width + ox * s + kx] } }
                        yp[oy * wo + ox] = acc * scale
                    }
                }
            }
        }
    }

    /// Average pooling backward: `dx` is overwritten.
    public static func averageBackward(_ dy: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                                       kernel k: Int, stride s: Int, inputGradient dx: UnsafeMutablePointer<Float>) {
        let ho = outExtent(height, kernel: k, stride: s), wo = outExtent(width, kernel: k, stride: s)
        let scale = 1 / Float(k * k)
        parallelFor(batch * channels, minimumChunk: 4) { planes in
            for pl in planes {
                let dxp = dx + pl * height * width, dyp = dy + pl * ho * wo
                if k == 2 && s == 2 && height == 2 * ho && width == 2 * wo {
                    // Disjoint 2x2 windows covering the plane: every input gets 0 + its window's share.
                    for oy in 0..<ho {
                        let r0 = dxp + 2 * oy * width, r1 = r0 + width, gr = dyp + oy * wo
                        for ox in 0..<wo {
                            let g = 0 + gr[ox] * scale
                            r0[2 * ox] = g; r0[2 * ox + 1] = g; r1[2 * ox] = g; r1[2 * ox + 1] = g
                        }
                    }
                    continue
                }
                dxp.update(repeating: 0, count: height * width)
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        let g = dyp[oy * wo + ox] * scale
                        for ky in 0..<k { for kx in 0..<k { dxp[(oy * s + ky) * width + ox * s + kx] += g } }
                    }
                }
            }
        }
    }

    /// Max pooling forward; `argmax` receives, per output, the flat index within its input plane.
    public static func maxForward(_ x: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                                  kernel k: Int, stride s: Int, output y: UnsafeMutablePointer<Float>,
                                  argmax: UnsafeMutablePointer<Int32>) {
        let ho = outExtent(height, kernel: k, stride: s), wo = outExtent(width, kernel: k, stride: s)
        parallelFor(batch * channels, minimumChunk: 4) { planes in
            for pl in planes {
                let xp = x + pl * height * width, yp = y + pl * ho * wo, ap = argmax + pl * ho * wo
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var best = -Float.infinity, bestIndex = 0
                        for ky in 0..<k {
                            for kx in 0..<k {
                                let idx = (oy * s + ky) * width + ox * s + kx
                                if xp[idx] > best { best = xp[idx]; bestIndex = idx }
                            }
                        }
                        yp[oy * wo + ox] = best
                        ap[oy * wo + ox] = Int32(bestIndex)
                    }
                }
            }
        }
    }

    /// Max pooling backward: the gradient goes to the recorded winner; `dx` is overwritten.
    public static func maxBackward(_ dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, batch: Int, channels: Int,
                                   height: Int, width: Int, kernel k: Int, stride s: Int,
                                   inputGradient dx: UnsafeMutablePointer<Float>) {
        let ho = outExtent(height, kernel: k, stride: s), wo = outExtent(width, kernel: k, stride: s)
        parallelFor(batch * channels, minimumChunk: 4) { planes in
            for pl in planes {
                let dxp = dx + pl * height * width, dyp = dy + pl * ho * wo, ap = argmax + pl * ho * wo
                dxp.update(repeating: 0, count: height * width)
                for o in 0..<(ho * wo) { dxp[Int(ap[o])] += dyp[o] }
            }
        }
    }
}
