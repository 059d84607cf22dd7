//! The database sockets of this process, found through `/proc/self/fd` (Linux, as Lambda is;
//! elsewhere none are found and nothing is closed).
//!
//! mysql_async has no way to close a connection at once: a dropped connection goes back to its
//! pool, whose clean-up (a rollback) runs later on the runtime, and a disconnect first waits for
//! the server. Neither happens before a Lambda instance is frozen after its response. Shutting the
//! socket down does: the server sees the client gone as soon as it reads, and rolls back.

use std::os::fd::RawFd;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Socket {
    pub fd: RawFd,
    /// Identifies the socket for as long as it exists, unlike the descriptor's number.
    pub inode: u64,
}

/// The TCP sockets of this process whose peer port is `port`.
#[cfg(target_os = "linux")]
pub fn connected_to(port: u16) -> Vec<Socket> {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<RawFd>().ok())
        .filter_map(|fd| {
            let inode = socket_inode(fd)?;
            (peer_port(fd)? == port).then_some(Socket { fd, inode })
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
pub fn connected_to(_port: u16) -> Vec<Socket> {
    Vec::new()
}

#[cfg(target_os = "linux")]
fn socket_inode(fd: RawFd) -> Option<u64> {
    // SAFETY: fstat writes into the zeroed struct it is given and reads nothing else; a
    // descriptor closed meanwhile only makes it fail.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut stat) } != 0 || stat.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return None;
    }
    Some(stat.st_ino as u64)
}

#[cfg(target_os = "linux")]
fn peer_port(fd: RawFd) -> Option<u16> {
    // SAFETY: getpeername writes at most `length` bytes into the storage it is given.
    let mut address: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut length = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let outcome = unsafe {
        libc::getpeername(
            fd,
            (&mut address as *mut libc::sockaddr_storage).cast(),
            &mut length,
        )
    };
    if outcome != 0 {
        return None;
    }
    match i32::from(address.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let v4: &libc::sockaddr_in =
                unsafe { &*(&address as *const libc::sockaddr_storage).cast() };
            Some(u16::from_be(v4.sin_port))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let v6: &libc::sockaddr_in6 =
                unsafe { &*(&address as *const libc::sockaddr_storage).cast() };
            Some(u16::from_be(v6.sin6_port))
        }
        _ => None,
    }
}

/// Shuts `socket` down in both directions (FIN to the server; the next read or write of the
/// connection fails). The descriptor stays open for its owner to close, so it cannot be reused
/// under it.
pub fn shut_down(socket: &Socket) {
    #[cfg(target_os = "linux")]
    {
        // Still the same socket? A descriptor closed and reused since the scan is left alone.
        if socket_inode(socket.fd) == Some(socket.inode) {
            // SAFETY: shutdown takes a descriptor and flags; it frees nothing.
            unsafe { libc::shutdown(socket.fd, libc::SHUT_RDWR) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connected_socket_is_found_by_its_peer_port_and_shut_down() {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut server_side, _) = listener.accept().unwrap();
        let found = connected_to(port);
        assert_eq!(found.len(), 1, "{found:?}");
        shut_down(&found[0]);
        let mut buffer = [0u8; 1];
        assert_eq!(
            server_side.read(&mut buffer).unwrap(),
            0,
            "the peer sees the end"
        );
        drop(client);
    }
}
