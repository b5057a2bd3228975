package stack

import (
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/jobweaver/jobweaver/shared/kafka"
)

// The parts of a compose file the tests read.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Networks map[string]struct {
		Name string `yaml:"name"`
	} `yaml:"networks"`
}

type composeService struct {
	Image         string            `yaml:"image"`
	Profiles      []string          `yaml:"profiles"`
	ContainerName string            `yaml:"container_name"`
	Command       []string          `yaml:"command"`
	Environment   map[string]string `yaml:"environment"`
	Ports         []string          `yaml:"ports"`
	Volumes       []string          `yaml:"volumes"`
	Networks      map[string]struct {
		Aliases []string `yaml:"aliases"`
	} `yaml:"networks"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
}

func readCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	raw, err := os.ReadFile("../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("compose.yaml is not valid YAML for compose: %v", err)
	}
	return c, string(raw)
}

// exactTag is a full version: 4.14.0, v24.3.11, 16.6 (Postgres has two parts).
var exactTag = regexp.MustCompile(`^v?[0-9]+\.[0-9]+(\.[0-9]+)?$`)

func TestComposeServicesArePinnedAndHealthChecked(t *testing.T) {
	c, raw := readCompose(t)
	if c.Name != "jobweaver-localstack" {
		t.Errorf("project name %q", c.Name)
	}
	want := map[string]string{ // service -> image repository
		"localstack":     "localstack/localstack",
		"localstack-pro": "localstack/localstack-pro",
		"redpanda":       "redpandadata/redpanda",
		"postgres":       "postgres",
	}
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	if strings.Join(names, ",") != "localstack,localstack-pro,postgres,redpanda" {
		t.Fatalf("services %v", names)
	}
	for name, s := range c.Services {
		repo, tag, ok := strings.Cut(s.Image, ":")
		if !ok || repo != want[name] {
			t.Errorf("%s: image %q; want %s:<exact version>", name, s.Image, want[name])
		}
		if !exactTag.MatchString(tag) || strings.Contains(s.Image, "$") {
			t.Errorf("%s: tag %q is not an exact version", name, tag)
		}
		if name == "postgres" && !strings.HasPrefix(tag, "16.") {
			t.Errorf("postgres: tag %q; want 16.x", tag)
		}
		if name == "redpanda" && !strings.HasPrefix(tag, "v24.") {
			t.Errorf("redpanda: tag %q; want v24.x.y", tag)
		}
		if strings.HasPrefix(name, "localstack") && !strings.HasPrefix(tag, "4.") {
			t.Errorf("%s: tag %q; want 4.x.y", name, tag)
		}
		h := s.Healthcheck
		if h == nil || len(h.Test) < 2 || (h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL") || h.Interval == "" || h.Retries == 0 {
			t.Errorf("%s: healthcheck %+v", name, h)
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %q is published beyond localhost", name, p)
			}
		}
	}
	if c.Services["localstack"].Image[strings.Index(c.Services["localstack"].Image, ":"):] !=
		c.Services["localstack-pro"].Image[strings.Index(c.Services["localstack-pro"].Image, ":"):] {
		t.Errorf("community and pro LocalStack differ in version: %s, %s", c.Services["localstack"].Image, c.Services["localstack-pro"].Image)
	}
	for _, bad := range []string{":latest", ":stable", ":main"} {
		if strings.Contains(raw, bad) {
			t.Errorf("compose.yaml mentions %s", bad)
		}
	}
}

// The names the deploy command and the bridge use (this package's
// constants) are what the compose file provides.
func TestComposeMatchesTheStack(t *testing.T) {
	c, _ := readCompose(t)
	if c.Networks["default"].Name != Network {
		t.Errorf("default network %q; want %q", c.Networks["default"].Name, Network)
	}

	// LocalStack, both editions: the gateway port, Lambda containers on
	// the compose network, the Docker socket, the alias, its health.
	endpoint, _ := url.Parse(Endpoint)
	for name, profile := range map[string]string{"localstack": "community", "localstack-pro": "pro"} {
		s := c.Services[name]
		if !slices.Equal(s.Profiles, []string{profile}) {
			t.Errorf("%s: profiles %v; want [%s]", name, s.Profiles, profile)
		}
		if !slices.Contains(s.Ports, "127.0.0.1:"+endpoint.Port()+":4566") {
			t.Errorf("%s: ports %v do not publish %s", name, s.Ports, Endpoint)
		}
		if s.Environment["LAMBDA_DOCKER_NETWORK"] != Network {
			t.Errorf("%s: LAMBDA_DOCKER_NETWORK %q; want %q", name, s.Environment["LAMBDA_DOCKER_NETWORK"], Network)
		}
		if s.ContainerName == "" || s.Environment["MAIN_CONTAINER_NAME"] != s.ContainerName {
			t.Errorf("%s: MAIN_CONTAINER_NAME %q, container_name %q", name, s.Environment["MAIN_CONTAINER_NAME"], s.ContainerName)
		}
		if !slices.Contains(s.Volumes, "/var/run/docker.sock:/var/run/docker.sock") {
			t.Errorf("%s: the Docker socket is not mounted: %v", name, s.Volumes)
		}
		if !slices.Contains(s.Networks["default"].Aliases, "localstack") {
			t.Errorf("%s: no network alias localstack", name)
		}
		if s.DependsOn["redpanda"].Condition != "service_healthy" || s.DependsOn["postgres"].Condition != "service_healthy" {
			t.Errorf("%s: depends_on %+v", name, s.DependsOn)
		}
		if test := strings.Join(s.Healthcheck.Test, " "); !strings.Contains(test, "/_localstack/health") || !strings.Contains(test, "lambda") {
			t.Errorf("%s: healthcheck %q does not wait for Lambda", name, test)
		}
	}
	if tok := c.Services["localstack-pro"].Environment["LOCALSTACK_AUTH_TOKEN"]; !strings.HasPrefix(tok, "${LOCALSTACK_AUTH_TOKEN") {
		t.Errorf("pro: LOCALSTACK_AUTH_TOKEN %q is not taken from the environment", tok)
	}
	if _, ok := c.Services["localstack"].Environment["LOCALSTACK_AUTH_TOKEN"]; ok {
		t.Error("community: has LOCALSTACK_AUTH_TOKEN")
	}

	// Redpanda: the listeners the functions (InternalBrokers) and the host
	// (HostBrokers) use.
	rp := c.Services["redpanda"]
	cmd := strings.Join(rp.Command, " ")
	_, hostPort, _ := net.SplitHostPort(HostBrokers)
	for _, want := range []string{
		"--advertise-kafka-addr=internal://" + InternalBrokers + ",external://" + HostBrokers,
		"--kafka-addr=internal://0.0.0.0:9092,external://0.0.0.0:" + hostPort,
	} {
		if !strings.Contains(cmd, want) {
			t.Errorf("redpanda command %q lacks %q", cmd, want)
		}
	}
	if !slices.Contains(rp.Ports, "127.0.0.1:"+hostPort+":"+hostPort) {
		t.Errorf("redpanda ports %v do not publish %s", rp.Ports, HostBrokers)
	}
	if _, port, _ := net.SplitHostPort(InternalBrokers); port != "9092" {
		t.Errorf("InternalBrokers %s is not the internal listener", InternalBrokers)
	}

	// Postgres: HostDatabaseURL's user, password and port; InternalDatabaseHost.
	pg := c.Services["postgres"]
	u, err := url.Parse(HostDatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := u.User.Password()
	if pg.Environment["POSTGRES_USER"] != u.User.Username() || pg.Environment["POSTGRES_PASSWORD"] != pass {
		t.Errorf("postgres user %q / password %q; HostDatabaseURL has %q / %q",
			pg.Environment["POSTGRES_USER"], pg.Environment["POSTGRES_PASSWORD"], u.User.Username(), pass)
	}
	if !slices.Contains(pg.Ports, "127.0.0.1:"+u.Port()+":5432") {
		t.Errorf("postgres ports %v do not publish %s", pg.Ports, u.Host)
	}
	if InternalDatabaseHost != "postgres:5432" {
		t.Errorf("InternalDatabaseHost %s", InternalDatabaseHost)
	}
}

func TestRoutesCoverEveryTopicOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Routes {
		if seen[r.Topic] {
			t.Errorf("topic %s routed twice", r.Topic)
		}
		seen[r.Topic] = true
		if r.Group != "jobweaver-"+r.Function+"-"+r.Topic {
			t.Errorf("route %+v: group", r)
		}
	}
	for _, topic := range kafka.TopicNames() {
		if !seen[topic] {
			t.Errorf("topic %s has no route", topic)
		}
	}
	if len(seen) != len(kafka.Topics) {
		t.Errorf("%d topics routed; want %d", len(seen), len(kafka.Topics))
	}
}
