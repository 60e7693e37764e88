package engine

import (
	"crypto/rand"
	"math/big"

	"golang.org/x/sys/unix"
)

// Docker-style generated names: adjective_surname of a scientist.
var (
	nameLeft  = []string{"admiring", "adoring", "agitated", "amazing", "angry", "awesome", "blissful", "bold", "boring", "brave", "busy", "charming", "clever", "compassionate", "competent", "condescending", "confident", "cool", "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy", "eager", "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic", "exciting", "fervent", "festive", "flamboyant", "focused", "friendly", "frosty", "funny", "gallant", "gifted", "goofy", "gracious", "great", "happy", "hardcore", "heuristic", "hopeful", "hungry", "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial", "keen", "kind", "laughing", "loving", "lucid", "magical", "modest", "musing", "mystifying", "naughty", "nervous", "nice", "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical", "priceless", "quirky", "quizzical", "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic", "strange", "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant", "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen"}
	nameRight = []string{"agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata", "austin", "babbage", "banach", "bardeen", "bartik", "bassi", "bell", "benz", "bhabha", "bhaskara", "blackwell", "bohr", "booth", "borg", "bose", "boyd", "brahmagupta", "brattain", "brown", "carson", "cerf", "chandrasekhar", "clarke", "cohen", "curie", "darwin", "davinci", "dijkstra", "dirac", "driscoll", "dubinsky", "easley", "einstein", "elion", "engelbart", "euclid", "euler", "fermat", "fermi", "feynman", "franklin", "galileo", "gates", "goldberg", "goldstine", "golick", "goodall", "hamilton", "hawking", "heisenberg", "hermann", "hertz", "hodgkin", "hofstadter", "hoover", "hopper", "hugle", "hypatia", "jackson", "jennings", "jepsen", "johnson", "joliot", "jones", "kalam", "kapitsa", "keller", "kepler", "khorana", "kilby", "kirch", "knuth", "kowalevski", "lalande", "lamarr", "lamport", "leakey", "leavitt", "lehmann", "lewin", "lichterman", "liskov", "lovelace", "lumiere", "mahavira", "margulis", "matsumoto", "mayer", "mccarthy", "mcclintock", "meitner", "mendel", "merkle", "minsky", "mirzakhani", "moore", "morse", "napier", "nash", "neumann", "newton", "nobel", "noether", "northcutt", "noyce", "panini", "pare", "pascal", "pasteur", "payne", "perlman", "pike", "poincare", "poitras", "ptolemy", "raman", "ramanujan", "ride", "ritchie", "robinson", "roentgen", "rosalind", "rubin", "saha", "sammet", "shannon", "shaw", "shirley", "shockley", "sinoussi", "snyder", "spence", "stonebraker", "sutherland", "swanson", "swartz", "tesla", "thompson", "torvalds", "turing", "varahamihira", "visvesvaraya", "volhard", "wescoff", "wiles", "williams", "wilson", "wing", "wozniak", "wright", "yalow", "yonath"}
)

func pick(list []string) string {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
	if err != nil {
		panic(err)
	}
	return list[n.Int64()]
}

// generateName returns a free adjective_surname name.
func (e *Engine) generateName() string {
	for i := 0; ; i++ {
		name := pick(nameLeft) + "_" + pick(nameRight)
		if i > 10 {
			name += "_" + newID()[:4]
		}
		e.mu.RLock()
		_, taken := e.byName["/"+name]
		e.mu.RUnlock()
		if !taken {
			return name
		}
	}
}

func killPid(pid int) {
	if pid > 0 {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}
