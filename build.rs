fn main() {
    // Gives the Py_3_10 ... Py_3_13 cfgs that compat.rs keys version differences on.
    pyo3_build_config::use_pyo3_cfgs();
}
