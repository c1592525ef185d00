internal import CBLAS

/// The BLAS calls cimcarlo makes, in Swift terms. This is the only file that
/// imports CBLAS (OpenBLAS); everything else calls through here.
public enum BLAS {
    /// Sets the number of threads OpenBLAS uses inside one call. The Monte-Carlo engine
    /// sets 1 while Dispatch workers run instances in parallel, so the two never compete.
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// `C[m×n] = alpha · op(A) · op(B) + beta · C`, row-major single precision, where
    /// `op(A)` is `m×k` and `op(B)` is `k×n` (transposed in storage when asked).
    package static func gemm(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
