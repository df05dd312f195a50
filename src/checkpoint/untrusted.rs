//! Reading safetensors bytes that anyone may have crafted: the checks that run before, and
//! instead of, trusting the file.
//!
//! Contract: [`header`] parses the length prefix and the JSON header on its own and checks that
//! every tensor's data offsets lie inside the file, so that the `safetensors` crate, which adds
//! offsets without checking for overflow (0.8, `read_metadata`: a panic in builds with overflow
//! checks), only ever sees files whose offsets are in range. [`f32_values`] reads one tensor's
//! data, refusing any dtype but F32 and any non-finite value, with an error naming the tensor.

use std::collections::HashMap;

use serde::Deserialize;

use super::CheckpointError;

/// The longest JSON header read (checkpoints written here have about 1.5 kB: twenty tensors
/// at most and the config).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Bytes of the little-endian header length that opens a safetensors file.
pub const LENGTH_PREFIX: usize = 8;

/// One tensor's entry in the header, as far as the offset check needs it.
#[derive(Deserialize)]
struct Entry {
    data_offsets: [u64; 2],
}

/// Checks the header of `bytes` and returns its `__metadata__` (empty when there is none).
pub fn header(bytes: &[u8]) -> Result<HashMap<String, String>, CheckpointError> {
    let corrupt = |why: String| CheckpointError::Corrupt(why);
    let prefix: [u8; LENGTH_PREFIX] = bytes
        .get(..LENGTH_PREFIX)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt(format!("{} bytes, shorter than the 8-byte header length", bytes.len())))?;
    let header_len = u64::from_le_bytes(prefix);
    if header_len > MAX_HEADER_BYTES as u64 {
        return Err(corrupt(format!(
            "header of {header_len} bytes, more than the {MAX_HEADER_BYTES} a vgg-mnist checkpoint needs"
        )));
    }
    let header_end = LENGTH_PREFIX + header_len as usize;
    let json = bytes
        .get(LENGTH_PREFIX..header_end)
        .ok_or_else(|| corrupt(format!("header of {header_len} bytes but the file has {}", bytes.len())))?;
    let mut entries: HashMap<String, serde_json::Value> =
        serde_json::from_slice(json).map_err(|e| corrupt(format!("header: {e}")))?;
    let metadata = match entries.remove("__metadata__") {
        Some(m) => serde_json::from_value(m).map_err(|e| corrupt(format!("header metadata: {e}")))?,
        None => HashMap::new(),
    };
    let data_len = (bytes.len() - header_end) as u64;
    for (name, value) in entries {
        let entry: Entry = serde_json::from_value(value).map_err(|e| corrupt(format!("header entry `{name}`: {e}")))?;
        let [start, end] = entry.data_offsets;
        if start > end || end > data_len {
            return Err(corrupt(format!(
                "tensor `{name}` has data offsets [{start}, {end}] outside the file's {data_len} data bytes"
            )));
        }
    }
    Ok(metadata)
}

/// The values of tensor `name` (checked for dtype and finiteness), from a view whose size the
/// `safetensors` crate has already checked against its shape.
pub fn f32_values(name: &str, view: &safetensors::tensor::TensorView<'_>) -> Result<Vec<f32>, CheckpointError> {
    if view.dtype() != safetensors::Dtype::F32 {
        return Err(CheckpointError::UnsupportedDtype {
            name: name.to_string(),
            dtype: view.dtype().to_string(),
        });
    }
    let values: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    finite(name, &values)?;
    Ok(values)
}

/// Fails with [`CheckpointError::NonFinite`] naming `name` and the first bad value.
pub fn finite(name: &str, values: &[f32]) -> Result<(), CheckpointError> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(CheckpointError::NonFinite {
            name: name.to_string(),
            index,
            value: values[index],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend(header.as_bytes());
        v.extend(data);
        v
    }

    /// The issue's crash: offsets that `safetensors` 0.8 validates one by one (each tensor's
    /// size matches its shape) but whose end, added to the header length, overflows `usize`.
    #[test]
    fn offsets_past_the_file_are_refused_before_safetensors_sees_them() {
        let size = (1u64 << 61) - 1; // a U8 tensor of 2^61 - 1 elements
        let mut entries = Vec::new();
        for i in 0..8u64 {
            entries.push(format!(
                r#""t{i}":{{"dtype":"U8","shape":[{size}],"data_offsets":[{},{}]}}"#,
                i * size,
                (i + 1) * size
            ));
        }
        let bytes = file(&format!("{{{}}}", entries.join(",")), &[0; 16]);
        let err = header(&bytes).unwrap_err();
        assert!(
            matches!(&err, CheckpointError::Corrupt(m) if m.contains("outside the file's 16 data bytes")),
            "{err}"
        );
        let err = header(&file(
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#,
            &[0; 4],
        ))
        .unwrap_err();
        assert!(err.to_string().contains("[4, 0]"), "{err}");
    }

    #[test]
    fn malformed_headers_are_corrupt_not_panics() {
        for bytes in [
            vec![1, 2, 3],
            file("{", &[]),
            file("[]", &[]),
            file(r#"{"a":{"data_offsets":[-1,2]}}"#, &[0; 2]),
            file(r#"{"__metadata__":{"k":1}}"#, &[]),
            u64::MAX.to_le_bytes().to_vec(),
            {
                let mut v = 100u64.to_le_bytes().to_vec();
                v.extend(b"{}");
                v
            },
        ] {
            assert!(matches!(header(&bytes), Err(CheckpointError::Corrupt(_))), "{bytes:?}");
        }
        let meta = header(&file(r#"{"__metadata__":{"k":"v"}}"#, &[])).unwrap();
        assert_eq!(meta["k"], "v");
    }

    #[test]
    fn non_finite_values_name_the_tensor() {
        assert!(finite("a", &[0.0, -1.5, f32::MAX]).is_ok());
        let err = finite("head.bias", &[0.0, f32::NAN]).unwrap_err();
        assert!(
            err.to_string().contains("`head.bias`") && err.to_string().contains("NaN at index 1"),
            "{err}"
        );
        assert!(matches!(
            finite("b", &[f32::NEG_INFINITY]),
            Err(CheckpointError::NonFinite { index: 0, .. })
        ));
    }
}
