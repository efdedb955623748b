//! The protobuf codec of every generated service: prost's, except that a message that cannot be
//! decoded is the sender's fault.
//!
//! tonic's prost codec answers an undecodable request body INTERNAL ("failed to decode Protobuf
//! message"), which tells the caller the server is broken. Here the same failure becomes
//! INVALID_ARGUMENT naming the message type, so clients know to fix what they send. Build
//! (`build.rs`) makes the generated servers and clients use [`Codec`]; on the client side the
//! same mapping applies to a response that cannot be decoded, which our server never sends.

use std::marker::PhantomData;
use tonic::codec::{BufferSettings, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// [`ProstCodec`] with decode errors mapped to INVALID_ARGUMENT.
#[derive(Debug, Clone)]
pub struct Codec<T, U> {
    _pd: PhantomData<(T, U)>,
}

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Codec { _pd: PhantomData }
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = InvalidArgumentDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::default().encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        InvalidArgumentDecoder {
            inner: ProstCodec::<T, U>::default().decoder(),
        }
    }
}

/// A [`ProstDecoder`] whose errors are INVALID_ARGUMENT naming the message type.
#[derive(Debug, Clone)]
pub struct InvalidArgumentDecoder<U> {
    inner: ProstDecoder<U>,
}

impl<U: prost::Message + Default> Decoder for InvalidArgumentDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.inner.decode(buf).map_err(|s| {
            // `type_name` is a path such as `creditrisk::server::pb::AppendEventsRequest`.
            let full = std::any::type_name::<U>();
            let name = full.rsplit("::").next().unwrap_or(full);
            Status::invalid_argument(format!(
                "the message could not be decoded as a `creditrisk.v1.{name}`: {}",
                s.message()
            ))
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}
