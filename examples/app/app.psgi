# Sample PSGI app for bluegreen-perl: `/health` for the probes, `/` reports which release and color
# answered. The host script writes .bluegreen-release.json into each release directory.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use JSON::PP ();
use Try::Tiny;

my $root = dirname(File::Spec->rel2abs(__FILE__));
my $json = JSON::PP->new->canonical;

# Read once per worker start: a graceful restart starts workers of the new release.
my $release = try {
  open my $fh, '<', "$root/.bluegreen-release.json" or die "no release file\n";
  local $/;
  $json->decode(scalar <$fh>);
} catch {
  { release => 'unknown', color => 'unknown', app => 'unknown' };
};

my $app = sub {
  my ($env) = @_;
  if ($env->{PATH_INFO} eq '/health') {
    return [200, ['Content-Type' => 'text/plain'], ["ok\n"]];
  }
  if ($env->{PATH_INFO} eq '/') {
    my $body = $json->encode({ app => $release->{app}, release => $release->{release}, color => $release->{color}, pid => $$ });
    return [200, ['Content-Type' => 'application/json'], ["$body\n"]];
  }
  return [404, ['Content-Type' => 'text/plain'], ["not found\n"]];
};
