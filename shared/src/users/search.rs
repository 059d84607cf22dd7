//! The query of `GET /api/users`: search, filters, order and page, parsed from the query string
//! and turned into SQL. Values always travel as parameters; only fixed SQL fragments are chosen
//! here.

use crate::db::Value;

use crate::auth::policy::Role;
use crate::error::ApiError;
use crate::paging::{
    boolean, check_known, invalid, whole_number, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT,
};

pub const MAX_QUERY_CHARS: usize = 100;

/// The order of a page; ties are ordered by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Id,
    IdDesc,
    Name,
    NameDesc,
    Created,
    CreatedDesc,
}

impl Sort {
    pub const VALUES: [&'static str; 6] = ["id", "-id", "name", "-name", "created", "-created"];

    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "id" => Self::Id,
            "-id" => Self::IdDesc,
            "name" => Self::Name,
            "-name" => Self::NameDesc,
            "created" => Self::Created,
            "-created" => Self::CreatedDesc,
            _ => return None,
        })
    }

    /// The ORDER BY list; each has an index (the primary key, `ix_users_name`,
    /// `ix_users_created`, which carry the id after the column).
    pub fn order_by(self) -> &'static str {
        match self {
            Self::Id => "u.id",
            Self::IdDesc => "u.id DESC",
            Self::Name => "u.name, u.id",
            Self::NameDesc => "u.name DESC, u.id DESC",
            Self::Created => "u.created, u.id",
            Self::CreatedDesc => "u.created DESC, u.id DESC",
        }
    }
}

/// A parsed `GET /api/users` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSearch {
    /// Trimmed, 1 to 100 characters.
    pub q: Option<String>,
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    pub sort: Sort,
    pub limit: u64,
    pub offset: u64,
}

impl Default for UserSearch {
    fn default() -> Self {
        Self {
            q: None,
            role: None,
            is_active: None,
            sort: Sort::Id,
            limit: DEFAULT_PAGE_LIMIT,
            offset: 0,
        }
    }
}

impl UserSearch {
    pub const PARAMETERS: [&'static str; 6] =
        ["q", "roleId", "isActive", "sort", "limit", "offset"];

    /// The query from the `(name, value)` pairs of the query string (values decoded).
    pub fn parse(pairs: &[(&str, &str)]) -> Result<Self, ApiError> {
        check_known(pairs, &Self::PARAMETERS)?;
        let mut search = Self::default();
        for &(name, raw) in pairs {
            match name {
                "q" => {
                    let q = raw.trim();
                    let chars = q.chars().count();
                    if !(1..=MAX_QUERY_CHARS).contains(&chars) {
                        return Err(invalid(name, "must be 1 to 100 characters after trimming"));
                    }
                    search.q = Some(q.to_owned());
                }
                "roleId" => {
                    let id = whole_number(name, raw, 1..=2)?;
                    search.role = Some(
                        Role::try_from(id as u8).map_err(|_| invalid(name, "must be 1 or 2"))?,
                    );
                }
                "isActive" => search.is_active = Some(boolean(name, raw)?),
                "sort" => {
                    search.sort = Sort::parse(raw).ok_or_else(|| {
                        invalid(
                            name,
                            "must be one of id, -id, name, -name, created, -created",
                        )
                    })?
                }
                "limit" => search.limit = whole_number(name, raw, 1..=MAX_PAGE_LIMIT)?,
                "offset" => search.offset = whole_number(name, raw, 0..=i64::MAX as u64)?,
                _ => unreachable!("checked above"),
            }
        }
        Ok(search)
    }

    /// The WHERE clause (empty without filters) over `users u`, and its parameters.
    pub fn filter(&self) -> (String, Vec<Value>) {
        let mut conditions: Vec<&str> = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        if let Some(q) = &self.q {
            let pattern = format!("%{}%", like_escaped(q));
            // The cellnumber column is ASCII: a q with other characters cannot match it (and
            // MySQL would refuse to compare them).
            let digits = q.strip_prefix('+').unwrap_or(q);
            if !digits.is_empty() && digits.is_ascii() {
                conditions.push(
                    "(u.name LIKE ? ESCAPE '!' OR u.email LIKE ? ESCAPE '!' \
                     OR u.cellnumber LIKE ? ESCAPE '!')",
                );
                params.push(pattern.clone().into());
                params.push(pattern.into());
                params.push(format!("%{}%", like_escaped(digits)).into());
            } else {
                conditions.push("(u.name LIKE ? ESCAPE '!' OR u.email LIKE ? ESCAPE '!')");
                params.push(pattern.clone().into());
                params.push(pattern.into());
            }
        }
        if let Some(role) = self.role {
            conditions.push("u.role_id = ?");
            params.push(role.id().into());
        }
        if let Some(is_active) = self.is_active {
            conditions.push("u.is_active = ?");
            params.push(is_active.into());
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        (filter, params)
    }
}

/// `text` for a LIKE pattern with `!` as the escape character: `%`, `_` and `!` are plain
/// characters, and so is `\` (it is not the escape character here, whatever the `sql_mode`).
pub fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(like_escaped("50%_off!"), "50!%!_off!!");
        assert_eq!(like_escaped(r"a\b"), r"a\b");
    }

    #[test]
    fn queries_are_parsed_and_anything_else_refused() {
        let search = UserSearch::parse(&[
            ("q", "  ada "),
            ("roleId", "2"),
            ("isActive", "false"),
            ("sort", "-name"),
            ("limit", "10"),
            ("offset", "5"),
        ])
        .unwrap();
        assert_eq!(search.q.as_deref(), Some("ada"));
        assert_eq!(search.role, Some(Role::User));
        assert_eq!(search.is_active, Some(false));
        assert_eq!(search.sort, Sort::NameDesc);
        assert_eq!((search.limit, search.offset), (10, 5));
        assert_eq!(UserSearch::parse(&[]).unwrap(), UserSearch::default());
        for bad in [
            ("q", "   "),
            ("q", &"x".repeat(101)),
            ("roleId", "3"),
            ("roleId", "1.0"),
            ("isActive", "1"),
            ("isActive", "TRUE"),
            ("sort", "email"),
            ("sort", "+id"),
            ("limit", "0"),
            ("offset", "-1"),
            ("unknown", "1"),
        ] {
            assert!(UserSearch::parse(&[bad]).is_err(), "{bad:?}");
        }
        assert!(UserSearch::parse(&[("q", "a"), ("q", "b")]).is_err());
        assert!(UserSearch::parse(&[("q", &"é".repeat(100))]).is_ok());
    }
}
