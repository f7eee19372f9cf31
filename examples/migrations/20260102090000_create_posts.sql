-- migrate:up
create table posts (
  id bigint generated always as identity primary key,
  author_id bigint not null references users (id) on delete cascade,
  title text not null,
  body text not null default '',
  published_at timestamptz
);
create index posts_author_id_idx on posts (author_id);

-- migrate:down
drop table posts;
